"""ComponentResources of the MvcMusicStore bootcamp stack, one per file, and pure naming helpers."""

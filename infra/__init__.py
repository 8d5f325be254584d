"""The Pulumi program of the MvcMusicStore bootcamp stack, its config and its offline plan."""

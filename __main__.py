"""What Pulumi's Python language host runs: the program at the project root (see Pulumi.yaml)."""

from infra.program import main

main()

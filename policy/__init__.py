"""The guardrails: a Pulumi policy pack, and its rules as plain functions the plan runs too."""

"""The partner-university catalogue: partners, contacts and inter-institutional agreements."""

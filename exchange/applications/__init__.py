"""Student applications to calls: ranked choices, documents, submission and its timeline."""

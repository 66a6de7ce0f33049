"""XML dossiers: safe parsing, enveloped XML-DSig signing by profile, verification, summaries."""

"""epj migrate — legacy extracts to FHIR R4."""

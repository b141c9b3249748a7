"""`insightly push`: warehouse rows written back to Insightly (issue 11)."""

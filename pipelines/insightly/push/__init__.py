"""`insightly push`: warehouse rows written back to Insightly (docs/push.md)."""

"""Personal data (可用不可见): masking, validation of Chinese phone and ID numbers, free-text redaction."""

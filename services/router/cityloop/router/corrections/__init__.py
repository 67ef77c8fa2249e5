"""Data corrections: reported wrong master data, reviewed, then applied to routing from then on."""

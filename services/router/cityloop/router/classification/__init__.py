"""Classifying a citizen's description into the dispatch catalogue: segmentation, the model, the
request generator that feeds it, training (on command and on a schedule) and its evaluation."""

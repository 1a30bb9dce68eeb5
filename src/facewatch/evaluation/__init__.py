"""Evaluation protocols: LFW verification, open-set identification, the SVM baseline."""

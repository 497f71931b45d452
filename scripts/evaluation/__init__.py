"""Scoring a run: metrics, thresholds, calibration, baselines, intervals, audits, plots, reports."""

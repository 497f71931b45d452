"""What every stage shares: errors, console output, settings, run folders, runtime set-up."""

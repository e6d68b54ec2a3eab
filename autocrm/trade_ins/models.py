"""Trade-in cars, appraisal appointments and valuations (built in issue 6)."""

"""Models of the world (subjects, equipment, inspectors, check items…) and the one place that opens the store."""

"""Teaching process reengineering: flow-analysis parts, diagrams, the lead trace and the
classroom animation."""

"""The streaming catalog: items arrive and retire in their real order while an index serves queries."""

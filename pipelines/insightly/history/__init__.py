"""Record versions: what a version is, and how they are kept, held and closed."""

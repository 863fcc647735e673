"""The only code that talks to authorization servers."""

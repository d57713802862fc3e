"""The simulated internet: hosts on loopback, its DNS hierarchy, the mail providers."""

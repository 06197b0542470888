"""What a root holds, in figures and on a map: class distributions, band statistics, the scenes' locations."""

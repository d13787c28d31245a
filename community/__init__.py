"""Communities (社区), their members and roles, grids (网格) and residents' priority groups."""

"""Risk evaluation behind a narrow door (DESIGN.md "Rules through a narrow door")."""

"""pyqtgraph panels for the selected layer: create plot items once, update in place."""

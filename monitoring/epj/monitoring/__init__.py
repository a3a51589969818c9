"""epj monitoring — rules, dashboards, exporters."""

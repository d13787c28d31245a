"""The web console: pages for residents, partner staff and community staff, served by `linli serve`."""

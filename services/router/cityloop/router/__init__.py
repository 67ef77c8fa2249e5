"""Router: decides who owns a ticket (category x jurisdiction), dispatches it, handles departments' replies."""

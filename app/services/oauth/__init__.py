"""Social login: provider clients, browser-bound state and account linking."""

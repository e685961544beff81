"""Social login: Google (OpenID Connect) and GitHub, with PKCE and browser-bound state."""

"""Who is asking: session tokens, visitors, accounts and sign-in."""

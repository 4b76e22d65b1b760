"""Pages for people: sign-in, consent and sign-out. No protocol logic here: the views ask the authorization
server (Authlib) what a request means and render the answer."""

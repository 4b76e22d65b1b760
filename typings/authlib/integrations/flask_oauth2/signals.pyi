from blinker import NamedSignal

# sent with the server as sender, and client= and grant= keywords
client_authenticated: NamedSignal
# sent with the server as sender, and token= and client= keywords
token_revoked: NamedSignal
# sent with the resource protector as sender, and a token= keyword
token_authenticated: NamedSignal

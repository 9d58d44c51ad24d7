#!/bin/sh
# `make run`: create the data directory with a demo account if absent, print
# the settings a mail program needs, and serve in the foreground.
set -eu
BIN=$1
DATA=$2
OFFSET=$3
DOMAIN=example.org
DEMO=demo@$DOMAIN

if [ ! -e "$DATA/postamt.conf" ]; then
	"$BIN" init --data "$DATA" --hostname localhost --domain "$DOMAIN"
	PASS=$("$BIN" user add "$DEMO" --data "$DATA" | sed -n 's/^password: //p')
	printf '%s\n' "$PASS" > "$DATA/demo-password"
	chmod 600 "$DATA/demo-password"
fi
PASS=$(cat "$DATA/demo-password" 2>/dev/null || echo "(set with: postamt user passwd $DEMO)")

cat <<MSG

Postamt is starting on 127.0.0.1.  Settings for your mail program:

  Server:     127.0.0.1 (certificate is self-signed: accept it once)
  User name:  $DEMO
  Password:   $PASS

  Incoming IMAP:  port $((993 + OFFSET)) SSL/TLS   or $((143 + OFFSET)) STARTTLS
  Incoming POP3:  port $((995 + OFFSET)) SSL/TLS   or $((110 + OFFSET)) STARTTLS
  Outgoing SMTP:  port $((465 + OFFSET)) SSL/TLS   or $((587 + OFFSET)) STARTTLS
  Receiving SMTP (MX): port $((25 + OFFSET))

Stop with Ctrl-C.

MSG
exec "$BIN" serve --data "$DATA" --port-offset "$OFFSET"

#!/usr/bin/python3
"""Tiny mail clients for the e2e testbed (standard library only; every network call has a timeout).

  mailclient.py smtp   HOST RCPT MESSAGE-ID [SUBJECT]   send one message, exit 0 when accepted
  mailclient.py imap   HOST USER PASS [MESSAGE-ID]      login; with MESSAGE-ID: exit 0 only if INBOX has it
  mailclient.py pop3   HOST USER PASS                   login, print "messages N"
  mailclient.py banner HOST PORT                        print the first line the server sends
  mailclient.py bulk   HOST N RCPT [CONNS]              send N small messages over CONNS parallel sessions (default 8)
"""
import imaplib, poplib, smtplib, socket, sys, threading

T = 5


def main(a):
    cmd = a[0]
    if cmd == "smtp":
        host, rcpt, mid = a[1], a[2], a[3]
        subj = a[4] if len(a) > 4 else "e2e test"
        msg = (f"From: probe@e2e.test\r\nTo: {rcpt}\r\nSubject: {subj}\r\n"
               f"Message-ID: <{mid}>\r\n\r\ne2e testbed message {mid}\r\n")
        with smtplib.SMTP(host, 25, timeout=T) as s:
            s.sendmail("probe@e2e.test", [rcpt], msg)
        print("accepted", mid)
    elif cmd == "imap":
        host, user, pw = a[1], a[2], a[3]
        m = imaplib.IMAP4(host, 143, timeout=T)
        m.login(user, pw)
        typ, data = m.select("INBOX", readonly=True)
        print("login ok, INBOX", data[0].decode())
        if len(a) > 4:
            typ, data = m.search(None, "HEADER", "Message-ID", a[4])
            found = bool(data[0].split())
            print("found" if found else "not found", a[4])
            if not found:
                return 1
        m.logout()
    elif cmd == "pop3":
        host, user, pw = a[1], a[2], a[3]
        p = poplib.POP3(host, 110, timeout=T)
        p.user(user)
        p.pass_(pw)
        print("messages", p.stat()[0])
        p.quit()
    elif cmd == "bulk":
        host, n, rcpt = a[1], int(a[2]), a[3]
        conns = int(a[4]) if len(a) > 4 else 8
        errors = []

        def session(k):
            try:
                with smtplib.SMTP(host, 25, timeout=30) as s:
                    for i in range(k, n, conns):
                        s.sendmail("bulk@e2e.test", [rcpt],
                                   f"From: bulk@e2e.test\r\nTo: {rcpt}\r\nSubject: bulk {i}\r\n\r\nbulk message {i}\r\n")
            except Exception as e:  # reported below
                errors.append(f"session {k}: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=session, args=(k,)) for k in range(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 1
        print("accepted", n)
    elif cmd == "banner":
        with socket.create_connection((a[1], int(a[2])), timeout=T) as s:
            s.settimeout(T)
            print(s.makefile("rb").readline().decode(errors="replace").rstrip())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as e:  # report, don't trace
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)

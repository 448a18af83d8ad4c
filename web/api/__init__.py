"""The JSON API (/api/…): the same operations as the pages, behind the same `allow(...)`, answering the CLI's
envelope ({"ok": true, …} / {"ok": false, "error": {"code", "message"}}). Signed in by the session cookie (then
POSTs carry the CSRF token) or by `Authorization: Bearer <token>` (`suijian users token NAME --label L`)."""

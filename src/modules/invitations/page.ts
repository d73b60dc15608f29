// The page an invitation link opens (/invite#token=...): it shows what the
// invitation is for and accepts it only when the invitee submits the form, so a
// mail scanner that follows the link accepts nothing. The token stays in the
// URL fragment, which the browser sends to no server; the script reads it and
// talks to the API. The script is a file of its own because the Content
// Security Policy allows no inline script.

export const invitePageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Ferry invitation</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }
  label { display: block; margin-top: 1rem; }
  input { width: 100%; padding: .4rem; font: inherit; box-sizing: border-box; }
  button { margin-top: 1.5rem; padding: .5rem 1.5rem; font: inherit; }
  .note { color: #555; font-size: .9rem; }
  #message { margin-top: 1.5rem; font-weight: 600; }
</style>
</head>
<body>
<h1>Ferry invitation</h1>
<p id="summary">Loading the invitation…</p>
<form id="accept" hidden>
  <p class="note">If you already have a Ferry account with this e-mail address, enter its password.
  Otherwise choose a password (at least 8 characters) and a name for your new account.</p>
  <label>Password <input id="password" type="password" autocomplete="current-password" minlength="8" required></label>
  <label>Name (new accounts only) <input id="name" autocomplete="name" maxlength="200"></label>
  <button type="submit">Accept the invitation</button>
</form>
<p id="message" role="status"></p>
<script src="/invite.js"></script>
</body>
</html>
`;

export const invitePageScript = `'use strict';
(function () {
  var token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  var summary = document.getElementById('summary');
  var form = document.getElementById('accept');
  var message = document.getElementById('message');
  function post(path, body) {
    return fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-requested-with': 'ferry' },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    });
  }
  post('/api/v1/invitations/preview', { token: token }).then(function (r) {
    if (!r.ok) { summary.textContent = r.data.detail || 'This invitation link is not valid.'; return; }
    var i = r.data;
    summary.textContent = i.invitedBy + ' invited ' + i.email + ' to join "' + i.tenant.name + '" as ' + i.role + '.';
    if (i.status !== 'pending') { message.textContent = 'This invitation is ' + i.status + '.'; return; }
    form.hidden = false;
  });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var body = { token: token, password: document.getElementById('password').value };
    var name = document.getElementById('name').value.trim();
    if (name) body.name = name;
    post('/api/v1/invitations/accept', body).then(function (r) {
      if (!r.ok) { message.textContent = r.data.detail || 'The invitation could not be accepted.'; return; }
      form.hidden = true;
      message.textContent = 'You joined "' + r.data.tenant.name + '" as ' + r.data.member.role + '. Sign in with your e-mail address and password.';
    });
  });
})();
`;

/*
 * Web chat for the hate crime and harassment reporting assistant (Rasa 3.6,
 * socket.io channel).
 *
 * Safety rules this file keeps to:
 *  - Nothing is kept in the browser: no web storage, no cookies, no
 *    client-side database. The session id and the queue live only in
 *    variables in this closure.
 *  - Bot text is always put in with textContent, never as HTML.
 *  - Quick exit (the "Exit this page" button, or Shift pressed on its own
 *    three times within 2 seconds) blanks the page, closes the connection and
 *    replaces this page in the history with a neutral site.
 *
 * Protocol (rasa/core/channels/socketio.py):
 *  client -> server  session_request {session_id: null | id}
 *  server -> client  session_confirm  id (a string; an object with
 *                                         session_id is accepted too)
 *  client -> server  user_uttered    {message, session_id}
 *  server -> client  bot_uttered     {text?, quick_replies?, attachment?}
 */
(function () {
  'use strict';

  var EXIT_URL = 'https://www.bbc.co.uk/weather';
  // Used only if /config.js is missing or leaves a value out.
  var DEFAULT_SOCKET_URL = 'http://localhost:5005';
  var DEFAULT_SOCKET_PATH = '/socket.io/';
  var GREETING = '/greet';
  var MAX_LENGTH = 2000;
  var TYPING_TIMEOUT_MS = 10000;
  var STATUS_CLEAR_MS = 6000;
  var SHIFT_WINDOW_MS = 2000;
  var SHIFT_PRESSES = 3;

  var state = {
    socket: null,
    sessionId: null,      // kept in memory only
    sessionReady: false,  // true after session_confirm on the current connection
    everConfirmed: false, // a session has been confirmed at least once
    greeted: false,
    outbox: [],           // [{message, wrap}] waiting to be sent
    exiting: false,
    typingTimer: null,
    statusTimer: null
  };

  /* ------------------------------------------------------------------ */
  /* Quick exit. This is set up first so it works even if the rest fails. */
  /* ------------------------------------------------------------------ */

  function quickExit(event) {
    if (event && typeof event.preventDefault === 'function') {
      event.preventDefault();
      event.stopPropagation();
    }
    if (!state.exiting) {
      state.exiting = true;
      try {
        document.body.innerHTML = '';
        var cover = document.createElement('div');
        cover.className = 'exit-cover';
        document.body.appendChild(cover);
        document.title = '';
      } catch (e) { /* keep going */ }
      try {
        clearTimeout(state.typingTimer);
        clearTimeout(state.statusTimer);
        state.outbox = [];
        state.sessionId = null;
        if (state.socket) {
          state.socket.off();
          state.socket.disconnect();
          if (state.socket.io && typeof state.socket.io.close === 'function') {
            state.socket.io.close();
          }
        }
        state.socket = null;
      } catch (e) { /* keep going */ }
    }
    window.location.replace(EXIT_URL);
  }

  var exitLink = document.getElementById('exit');
  if (exitLink) {
    exitLink.addEventListener('click', quickExit);
    // It is a link with role="button", so Space must work too.
    exitLink.addEventListener('keydown', function (e) {
      if (e.key === ' ' || e.key === 'Spacebar') {
        quickExit(e);
      }
    });
  }

  // Shift pressed on its own three times within 2 seconds. A Shift press
  // only counts if no other key was pressed while it was held (so typing
  // capital letters never triggers it); any other key starts the count again.
  var shift = { held: false, spoiled: false, downAt: 0, presses: [] };

  function isModified(e) {
    return e.ctrlKey || e.altKey || e.metaKey;
  }

  window.addEventListener('keydown', function (e) {
    if (e.key === 'Shift') {
      if (!e.repeat) {
        shift.held = true;
        shift.spoiled = isModified(e);
        shift.downAt = Date.now();
      }
      return;
    }
    if (shift.held) {
      shift.spoiled = true;
    }
    shift.presses = [];
  }, true);

  window.addEventListener('keyup', function (e) {
    if (e.key !== 'Shift') {
      return;
    }
    var clean = shift.held && !shift.spoiled && !isModified(e);
    var pressedAt = shift.downAt;
    shift.held = false;
    shift.spoiled = false;
    if (!clean) {
      shift.presses = [];
      return;
    }
    var now = Date.now();
    shift.presses.push(pressedAt);
    shift.presses = shift.presses.filter(function (t) {
      return now - t <= SHIFT_WINDOW_MS;
    });
    if (shift.presses.length >= SHIFT_PRESSES) {
      shift.presses = [];
      quickExit();
    }
  }, true);

  window.addEventListener('blur', function () {
    shift.held = false;
    shift.spoiled = false;
    shift.presses = [];
  });

  /* ------------------------------------------------------------------ */
  /* Page elements                                                       */
  /* ------------------------------------------------------------------ */

  var transcript = document.getElementById('transcript');
  var typing = document.getElementById('typing');
  var statusLine = document.getElementById('status');
  var form = document.getElementById('composer');
  var input = document.getElementById('message-input');

  if (!transcript || !form || !input) {
    return;
  }

  function make(tag, className) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    return node;
  }

  function scrollToEnd() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  function newMessage(kind) {
    var wrap = make('div', 'msg msg--' + kind);
    var who = make('span', 'visually-hidden');
    who.textContent = kind === 'bot' ? 'Assistant said: ' : 'You said: ';
    wrap.appendChild(who);
    transcript.appendChild(wrap);
    return wrap;
  }

  function appendMessage(kind, text) {
    var wrap = newMessage(kind);
    var p = make('p', 'msg__text');
    p.setAttribute('data-testid', kind === 'bot' ? 'bot-message' : 'user-message');
    p.textContent = text; // never innerHTML
    wrap.appendChild(p);
    scrollToEnd();
    return wrap;
  }

  /* ------------------------------------------------------------------ */
  /* Status line and typing indicator                                    */
  /* ------------------------------------------------------------------ */

  function setStatus(text, isProblem, clearAfterMs) {
    if (!statusLine) {
      return;
    }
    clearTimeout(state.statusTimer);
    statusLine.textContent = text || '';
    statusLine.classList.toggle('is-problem', !!isProblem);
    if (clearAfterMs) {
      state.statusTimer = setTimeout(function () {
        statusLine.textContent = '';
        statusLine.classList.remove('is-problem');
      }, clearAfterMs);
    }
  }

  function showTyping() {
    if (!typing) {
      return;
    }
    clearTimeout(state.typingTimer);
    typing.hidden = false;
    state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }

  function hideTyping() {
    clearTimeout(state.typingTimer);
    if (typing) {
      typing.hidden = true;
    }
  }

  /* ------------------------------------------------------------------ */
  /* Sending                                                             */
  /* ------------------------------------------------------------------ */

  var PENDING_NOTE = 'Not sent yet. It will be sent when the connection is back.';

  function canSend() {
    return !state.exiting && !!state.socket && state.socket.connected &&
      state.sessionReady && state.sessionId !== null;
  }

  function markPending(item) {
    if (!item.wrap || item.note) {
      return;
    }
    item.note = make('p', 'msg__note');
    item.note.textContent = PENDING_NOTE;
    item.wrap.appendChild(item.note);
    scrollToEnd();
  }

  function clearPending(item) {
    if (item.note && item.note.parentNode) {
      item.note.parentNode.removeChild(item.note);
    }
    item.note = null;
  }

  // Sends everything queued, in order. Only emits while the socket is
  // connected and the session is confirmed, so the socket.io client never
  // buffers a copy of its own. Each item leaves the queue as it is emitted,
  // so nothing is sent twice.
  function flush() {
    if (!canSend()) {
      state.outbox.forEach(markPending);
      return;
    }
    while (state.outbox.length && canSend()) {
      var item = state.outbox.shift();
      state.socket.emit('user_uttered', {
        message: item.message,
        session_id: state.sessionId
      });
      clearPending(item);
      showTyping();
    }
  }

  // message: what the bot receives. shown: what the transcript shows as
  // the user's message (null shows nothing).
  function sendUserMessage(message, shown) {
    if (state.exiting) {
      return;
    }
    var item = { message: message, wrap: null, note: null };
    if (shown !== null && shown !== undefined) {
      item.wrap = appendMessage('user', shown);
    }
    state.outbox.push(item);
    flush();
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (state.exiting) {
      return;
    }
    var text = input.value.trim().slice(0, MAX_LENGTH);
    if (!text) {
      input.focus();
      return;
    }
    input.value = '';
    sendUserMessage(text, text);
    input.focus();
  });

  /* ------------------------------------------------------------------ */
  /* Bot messages                                                        */
  /* ------------------------------------------------------------------ */

  // Only the newest question's buttons answer anything: an older button pressed later
  // would answer whatever question is current, so older groups are switched off.
  function disableOlderQuickReplies() {
    var old = transcript.querySelectorAll('[data-testid=quick-reply]');
    for (var i = 0; i < old.length; i++) {
      old[i].disabled = true;
    }
  }

  function renderQuickReplies(replies, wrap) {
    disableOlderQuickReplies();
    var group = make('div', 'quick-replies');
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', 'Reply options');
    var count = 0;

    replies.forEach(function (reply) {
      if (!reply || typeof reply !== 'object') {
        return;
      }
      var title = reply.title != null ? String(reply.title) : '';
      var payload = reply.payload != null ? String(reply.payload) : title;
      if (!title) {
        title = payload;
      }
      if (!payload) {
        return;
      }
      var button = make('button', 'quick-reply');
      button.type = 'button';
      button.setAttribute('data-testid', 'quick-reply');
      button.textContent = title;
      button.addEventListener('click', function (e) {
        if (button.disabled || state.exiting) {
          return;
        }
        var buttons = group.querySelectorAll('button');
        for (var i = 0; i < buttons.length; i++) {
          buttons[i].disabled = true;
        }
        button.classList.add('is-chosen');
        sendUserMessage(payload, title);
        // The pressed button is now disabled and loses focus. For keyboard
        // users (click with detail 0) move focus to the message box; on touch
        // screens leave it, so the on-screen keyboard does not pop up.
        if (e.detail === 0) {
          input.focus();
        }
      });
      group.appendChild(button);
      count++;
    });

    if (count) {
      (wrap || newMessage('bot')).appendChild(group);
      scrollToEnd();
    }
  }

  function isWebUrl(value) {
    return typeof value === 'string' && /^https?:\/\//i.test(value);
  }

  // Attachments are never loaded into the page (no network images).
  // An image becomes a plain link; anything else gets a short note.
  function renderAttachment(attachment, wrap) {
    var src = attachment && attachment.payload &&
      (attachment.payload.src || attachment.payload.url);
    var target = wrap || newMessage('bot');
    var p = make('p', 'msg__text');
    p.setAttribute('data-testid', 'bot-message');
    if (attachment && attachment.type === 'image' && isWebUrl(src)) {
      var link = make('a', 'msg__link');
      link.href = src;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      link.textContent = 'Open the picture the assistant sent (opens in a new tab)';
      p.appendChild(link);
    } else {
      p.textContent = 'The assistant sent something this page cannot show.';
    }
    target.appendChild(p);
    scrollToEnd();
    return target;
  }

  function onBotUttered(data) {
    if (state.exiting) {
      return;
    }
    hideTyping();
    if (data === null || data === undefined) {
      return;
    }
    if (typeof data === 'string') {
      data = { text: data };
    }
    if (typeof data !== 'object') {
      return;
    }
    var wrap = null;
    if (data.text !== null && data.text !== undefined && String(data.text).trim() !== '') {
      wrap = appendMessage('bot', String(data.text));
    }
    if (data.attachment) {
      wrap = renderAttachment(data.attachment, wrap);
    }
    var replies = Array.isArray(data.quick_replies) ? data.quick_replies :
      (Array.isArray(data.buttons) ? data.buttons : null);
    if (replies && replies.length) {
      renderQuickReplies(replies, wrap);
    }
  }

  /* ------------------------------------------------------------------ */
  /* Connection                                                          */
  /* ------------------------------------------------------------------ */

  function readConfig() {
    var cfg = window.HCBOT_CONFIG;
    if (!cfg || typeof cfg !== 'object') {
      cfg = {};
    }
    return {
      socketUrl: typeof cfg.socketUrl === 'string' && cfg.socketUrl ? cfg.socketUrl : DEFAULT_SOCKET_URL,
      socketPath: typeof cfg.socketPath === 'string' && cfg.socketPath ? cfg.socketPath : DEFAULT_SOCKET_PATH
    };
  }

  function connect() {
    if (typeof window.io !== 'function') {
      setStatus('The chat could not load. Please try again later. If you are in danger now, call 999.', true);
      return;
    }
    var cfg = readConfig();
    var socket = window.io(cfg.socketUrl, {
      path: cfg.socketPath,
      transports: ['websocket', 'polling'],
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: 10000,
      withCredentials: false
    });
    state.socket = socket;
    setStatus('Connecting…', false);

    socket.on('connect', function () {
      if (state.exiting) {
        return;
      }
      state.sessionReady = false;
      // null the first time (the server makes an id), then the id we were
      // given, so a reconnect carries on the same conversation.
      socket.emit('session_request', { session_id: state.sessionId });
    });

    socket.on('session_confirm', function (data) {
      if (state.exiting) {
        return;
      }
      var id = data && typeof data === 'object' ? data.session_id : data;
      if (id === null || id === undefined || id === '') {
        return;
      }
      var isNewSession = state.sessionId === null;
      var isReconnect = state.everConfirmed;
      state.sessionId = String(id);
      state.sessionReady = true;
      state.everConfirmed = true;

      if (isNewSession && !state.greeted) {
        state.greeted = true;
        // Not shown in the transcript; goes before anything typed while
        // we were still connecting.
        state.outbox.unshift({ message: GREETING, wrap: null, note: null });
      }
      if (isReconnect) {
        setStatus('Connected again.', false, STATUS_CLEAR_MS);
      } else {
        setStatus('', false);
      }
      flush();
    });

    socket.on('bot_uttered', onBotUttered);

    socket.on('disconnect', function (reason) {
      state.sessionReady = false;
      if (state.exiting || reason === 'io client disconnect') {
        return;
      }
      setStatus('Reconnecting…', true);
      if (reason === 'io server disconnect') {
        // The server closed us on purpose; socket.io will not retry itself.
        socket.connect();
      }
    });

    socket.on('connect_error', function () {
      if (state.exiting) {
        return;
      }
      if (state.everConfirmed) {
        setStatus('Reconnecting…', true);
      } else {
        setStatus('Cannot reach the chat yet. Trying again…', true);
      }
      if (!socket.active) {
        // Refused by the server rather than a network problem: try again
        // later ourselves.
        setTimeout(function () {
          if (!state.exiting && !socket.connected) {
            socket.connect();
          }
        }, 5000);
      }
    });
  }

  /* ------------------------------------------------------------------ */
  /* Back/forward cache: do not leave a conversation in a cached page.   */
  /* ------------------------------------------------------------------ */

  window.addEventListener('pagehide', function (e) {
    if (!e.persisted || state.exiting) {
      return;
    }
    transcript.textContent = '';
    input.value = '';
    state.outbox = [];
    state.sessionId = null;
    if (state.socket) {
      state.socket.off();
      state.socket.disconnect();
      state.socket = null;
    }
  });

  window.addEventListener('pageshow', function (e) {
    if (e.persisted) {
      window.location.reload();
    }
  });

  connect();
}());

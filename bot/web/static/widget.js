/*!
 * Hate crime and harassment reporting chat: the embeddable widget.
 *
 * Embed it in any page with a config object and one script tag:
 *
 *   <script>window.HateCrimeChat = {socketUrl: "https://chat.example.org",
 *     socketPath: "/socket.io/", exitUrl: "https://www.bbc.co.uk/weather", language: null};</script>
 *   <script src="https://chat.example.org/widget.js" defer></script>
 *
 * (The demo page loads the config from /config.js, as its CSP allows no inline script.)
 * The widget loads its CSS and the socket.io client from the origin it was loaded from, and
 * nothing from anywhere else.
 *
 * Safety rules this file keeps to:
 *  - Nothing is kept in the browser: no web storage, no cookies, no IndexedDB, no caches.
 *    The session token, the transcript and the queue of unsent messages live only in the
 *    variables of this closure and in the widget's DOM, and are dropped on quick exit.
 *  - Nothing connects before the person opens the chat.
 *  - Bot text is only ever put in with textContent, never as HTML.
 *  - Quick exit (GOV.UK "Exit this page"): the button in the widget, any element of the page
 *    marked data-hate-crime-chat-exit, or Shift pressed on its own three times within
 *    5 seconds. It covers the page at once, closes the connection, drops the conversation,
 *    and replaces this page in the history with a neutral site.
 *
 * Page hooks (optional): an element with data-hate-crime-chat-open opens the chat when pressed
 * (the widget shows it if it is hidden); an element with data-hate-crime-chat-exit is a quick
 * exit (make it a link to the neutral site, so it works without JavaScript too).
 *
 * Protocol with the server (bot/rasa_ext/webchat.py):
 *  C->S session_request {token|null, last_seen|null, lang|null}
 *  S->C session_confirm {token, resumed, lang, dir, native, ui}
 *  S->C bot_uttered     {seq, text, quick_replies: [{title, payload}], lang, dir}
 *  S->C bot_typing      {typing}
 *  S->C ui              {lang, dir, native, ui}
 *  C->S user_uttered    {message, id} -> ack {ok: true} | {ok: false, reason}
 */
(function () {
  'use strict';

  if (window.__hateCrimeChatLoaded) {
    return; // included twice: the first copy does the work
  }
  window.__hateCrimeChatLoaded = true;

  /* The widget's own words, in English, until the server sends them in the conversation's
     language. The keys and the English are those of bot/web/ui_text.py (a test compares). */
  var UI_TEXT = {
    "launcher": "Report hate crime or harassment",
    "title": "Report hate crime or harassment",
    "confidential": "This chat is confidential. If you are in danger now, call 999.",
    "exit": "Exit this page",
    "exit_hint": "Press Shift three times to leave this page quickly.",
    "shared_device": "Using a shared phone or computer? Nothing of this chat is kept in this browser, but the address of this page stays in your history: use a private window, or delete your browsing history afterwards.",
    "close": "Close the chat",
    "conversation": "Conversation",
    "input_label": "Your message",
    "send": "Send",
    "hint": "Press Enter or the Send button to send.",
    "typing": "The assistant is typing",
    "you_said": "You said:",
    "assistant_said": "Assistant said:",
    "reply_options": "Reply options",
    "connecting": "Connecting…",
    "reconnecting": "Reconnecting…",
    "reconnected": "Connected again.",
    "cannot_reach": "Cannot reach the chat yet. Trying again…",
    "not_sent": "Not sent yet. It will be sent when the connection is back.",
    "unavailable": "The chat could not load. Please try again later. If you are in danger now, call 999.",
    "too_long": "That message is too long to send. Please make it shorter.",
    "rate_limited": "You are sending messages very quickly. Please wait a minute, then send your message again. If you are in danger now, call 999.",
    "exit_two_more": "Shift, press 2 more times to exit.",
    "exit_one_more": "Shift, press 1 more time to exit.",
    "exit_expired": "Exit this page expired.",
    "restarted": "Your earlier conversation could not be continued, so a new one has started."
  };

  var DEFAULT_EXIT_URL = 'https://www.bbc.co.uk/weather';
  var DEFAULT_SOCKET_PATH = '/socket.io/';
  var MAX_LENGTH = 2000;
  var SHIFT_PRESSES = 3;
  var SHIFT_WINDOW_MS = 5000;
  var TYPING_TIMEOUT_MS = 20000;
  var STATUS_CLEAR_MS = 6000;
  var OPEN_ATTR = 'data-hate-crime-chat-open';
  var EXIT_ATTR = 'data-hate-crime-chat-exit';

  /* ------------------------------------------------------------------ */
  /* Where this script came from, and the page's settings                */
  /* ------------------------------------------------------------------ */

  function ownScript() {
    if (document.currentScript && document.currentScript.src) {
      return document.currentScript.src;
    }
    var scripts = document.getElementsByTagName('script');
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#].*)?$/.test(scripts[i].src)) {
        return scripts[i].src;
      }
    }
    return window.location.href;
  }

  var SCRIPT_URL = ownScript();
  var ORIGIN = new URL(SCRIPT_URL, window.location.href).origin;

  function asset(path) {
    // Always the origin widget.js came from: never a CDN, never the page's own host.
    return new URL(path, SCRIPT_URL).href;
  }

  function webUrl(value) {
    if (typeof value !== 'string' || !value) {
      return null;
    }
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function readConfig() {
    var c = window.HateCrimeChat;
    if (!c || typeof c !== 'object') {
      c = {};
    }
    var path = typeof c.socketPath === 'string' && c.socketPath.charAt(0) === '/' ? c.socketPath : DEFAULT_SOCKET_PATH;
    var lang = typeof c.language === 'string' && /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$/.test(c.language) ?
      c.language.toLowerCase() : null;
    return {
      socketUrl: webUrl(c.socketUrl) ? new URL(c.socketUrl, window.location.href).origin : ORIGIN,
      socketPath: path,
      exitUrl: webUrl(c.exitUrl) || DEFAULT_EXIT_URL,
      language: lang
    };
  }

  var config = readConfig();

  /* ------------------------------------------------------------------ */
  /* State: all of it in memory, none of it anywhere else                */
  /* ------------------------------------------------------------------ */

  var state = {
    exiting: false,
    open: false,
    socket: null,
    ioLoading: false,
    ioWaiting: [],
    token: null,          // from session_confirm; memory only
    confirmed: false,     // a session is confirmed on the current connection
    everConfirmed: false,
    lastSeq: null,        // the highest seq of bot messages shown
    queue: [],            // user messages not yet acknowledged: {id, message, wrap, note, epoch}
    counter: 0,
    epoch: 0,             // counts confirmed sessions: a message is sent once per session
    spoke: false,         // the person has written (or pressed a button) in this conversation
    turnStart: null,      // the first bot message since they last wrote
    lang: 'en',
    dir: 'ltr',
    ui: {},
    returnFocus: null,
    typingTimer: null,
    statusTimer: null
  };

  function t(key) {
    var text = state.ui && typeof state.ui[key] === 'string' && state.ui[key] ? state.ui[key] : UI_TEXT[key];
    return text || '';
  }

  /* ------------------------------------------------------------------ */
  /* Quick exit. Set up first, so it works even if the rest fails.       */
  /* ------------------------------------------------------------------ */

  function coverPage() {
    try {
      var cover = document.createElement('div');
      var s = cover.style;
      s.position = 'fixed';
      s.top = '0';
      s.left = '0';
      s.width = '100%';
      s.height = '100%';
      s.margin = '0';
      s.background = '#ffffff';
      s.zIndex = '2147483647';
      document.documentElement.appendChild(cover);
      if (document.body) {
        document.body.style.visibility = 'hidden';
      }
    } catch (e) { /* keep going */ }
  }

  function closeSocket() {
    var socket = state.socket;
    state.socket = null;
    if (!socket) {
      return;
    }
    try {
      socket.off();
      socket.disconnect();
      if (socket.io && typeof socket.io.off === 'function') {
        socket.io.off();
      }
      if (socket.io && socket.io.engine && typeof socket.io.engine.close === 'function') {
        socket.io.engine.close();
      }
    } catch (e) { /* keep going */ }
  }

  // Drops the conversation: the connection, the token, the queue and every message.
  function wipe() {
    closeSocket();
    clearTimeout(state.typingTimer);
    clearTimeout(state.statusTimer);
    clearTimeout(shift.timer);
    state.token = null;
    state.lastSeq = null;
    state.queue = [];
    state.confirmed = false;
    state.everConfirmed = false;
    state.spoke = false;
    state.turnStart = null;
    if (ui.log) {
      ui.log.textContent = '';
    }
    if (ui.input) {
      ui.input.value = '';
    }
    if (ui.status) {
      ui.status.textContent = '';
    }
  }

  function quickExit(event, url) {
    if (event) {
      event.preventDefault();
      event.stopPropagation();
    }
    var target = webUrl(url) || config.exitUrl;
    if (!state.exiting) {
      state.exiting = true;
      coverPage();
      try {
        wipe();
        if (ui.host && ui.host.parentNode) {
          ui.host.parentNode.removeChild(ui.host);
        }
        ui = {};
      } catch (e) { /* keep going */ }
    }
    try {
      // The neutral site is not told which page the person came from, whatever the page's own
      // referrer policy.
      var meta = document.createElement('meta');
      meta.name = 'referrer';
      meta.content = 'no-referrer';
      (document.head || document.documentElement).appendChild(meta);
    } catch (e) { /* keep going */ }
    // replace(): the Back button does not come back to this page.
    window.location.replace(target);
  }

  // Any exit control on the page (data-hate-crime-chat-exit), including ones added later.
  function pageExitControl(event) {
    var node = event.target;
    if (!node || !node.closest) {
      return null;
    }
    return node.closest('[' + EXIT_ATTR + ']');
  }

  document.addEventListener('click', function (e) {
    var control = pageExitControl(e);
    if (control) {
      quickExit(e, control.getAttribute('href'));
    }
  }, true);

  document.addEventListener('keydown', function (e) {
    // A link with role="button" answers Space as a button does.
    var control = pageExitControl(e);
    if (control && (e.key === ' ' || e.key === 'Spacebar')) {
      quickExit(e, control.getAttribute('href'));
    }
  }, true);

  /* Shift pressed on its own three times within 5 seconds. A press counts when the last Shift
     is released (left and right Shift held together are one press; a key held down and
     repeating is one press) and only if no other key was pressed meanwhile; any other key
     starts the count again. */
  var shift = { held: {}, down: false, spoiled: false, presses: 0, first: 0, timer: null };

  function isShift(e) {
    return e.key === 'Shift' || e.keyCode === 16;
  }

  function resetShift(announceExpiry) {
    clearTimeout(shift.timer);
    shift.timer = null;
    var had = shift.presses > 0;
    shift.presses = 0;
    shift.first = 0;
    showShiftProgress(0);
    if (had && announceExpiry) {
      announce(t('exit_expired'));
    }
  }

  window.addEventListener('keydown', function (e) {
    if (state.exiting) {
      return;
    }
    if (isShift(e)) {
      if (e.repeat || shift.held[e.code || 'Shift']) {
        return;
      }
      if (!shift.down) {
        shift.down = true;
        shift.spoiled = e.ctrlKey || e.altKey || e.metaKey;
      }
      shift.held[e.code || 'Shift'] = true;
      return;
    }
    if (shift.down) {
      shift.spoiled = true;
    }
    if (shift.presses) {
      resetShift(false);
    }
  }, true);

  window.addEventListener('keyup', function (e) {
    if (state.exiting || !isShift(e)) {
      return;
    }
    delete shift.held[e.code || 'Shift'];
    if (e.code && shift.held.Shift) {
      delete shift.held.Shift;
    }
    if (Object.keys(shift.held).length) {
      return; // the other Shift is still down: one press
    }
    var counts = shift.down && !shift.spoiled && !(e.ctrlKey || e.altKey || e.metaKey);
    shift.down = false;
    shift.spoiled = false;
    if (!counts) {
      resetShift(false);
      return;
    }
    var now = Date.now();
    if (shift.presses && now - shift.first > SHIFT_WINDOW_MS) {
      resetShift(false);
    }
    if (!shift.presses) {
      shift.first = now;
      shift.timer = setTimeout(function () { resetShift(true); }, SHIFT_WINDOW_MS);
    }
    shift.presses += 1;
    showShiftProgress(shift.presses);
    if (shift.presses >= SHIFT_PRESSES) {
      quickExit(null, config.exitUrl);
    } else {
      announce(t(shift.presses === 1 ? 'exit_two_more' : 'exit_one_more'));
    }
  }, true);

  window.addEventListener('blur', function () {
    shift.held = {};
    shift.down = false;
    shift.spoiled = false;
  });

  /* Back/forward cache: never bring a conversation back from it. */
  window.addEventListener('pagehide', function (e) {
    if (e.persisted && !state.exiting) {
      wipe();
      closePanel(false);
    }
  });

  window.addEventListener('pageshow', function (e) {
    if (e.persisted) {
      window.location.reload();
    }
  });

  /* ------------------------------------------------------------------ */
  /* Building the widget                                                 */
  /* ------------------------------------------------------------------ */

  var ui = {};
  var labels = []; // [{node, key, attr}]: relabelled when the language changes

  function make(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== null && attrs[name] !== undefined && attrs[name] !== false) {
          node.setAttribute(name, attrs[name] === true ? '' : String(attrs[name]));
        }
      });
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  // A node whose text (or an attribute) is the widget's word `key`.
  function label(node, key, attr) {
    labels.push({ node: node, key: key, attr: attr || null });
    setLabel(node, key, attr);
    return node;
  }

  function setLabel(node, key, attr) {
    if (attr) {
      node.setAttribute(attr, t(key));
    } else {
      node.textContent = t(key);
    }
  }

  function icon(paths, size) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', size);
    svg.setAttribute('height', size);
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'hcc-icon');
    paths.forEach(function (d) {
      var path = document.createElementNS(ns, 'path');
      path.setAttribute('d', d);
      svg.appendChild(path);
    });
    return svg;
  }

  function build() {
    var host = make('div', { id: 'hate-crime-chat', 'data-hate-crime-chat': '' });
    // Shield the host from the page's own styles (the shadow root shields the rest).
    host.style.all = 'initial';
    host.style.display = 'block';
    host.style.visibility = 'hidden'; // until the stylesheet has loaded
    var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;

    var css = make('link', { rel: 'stylesheet', href: asset('widget.css') });
    var shown = false;
    function show() {
      if (!shown) {
        shown = true;
        host.style.visibility = '';
      }
    }
    css.addEventListener('load', show);
    css.addEventListener('error', show);
    setTimeout(show, 4000);
    root.appendChild(css);

    // The launcher and the panel sit in the page's bottom corner on the side its text ends;
    // inside them, the conversation's language and direction.
    var pageRtl = false;
    try {
      pageRtl = window.getComputedStyle(document.documentElement).direction === 'rtl';
    } catch (e) { /* left to right */ }
    var wrap = make('div', { class: 'hcc' + (pageRtl ? ' hcc--page-rtl' : ''), lang: state.lang, dir: pageRtl ? 'rtl' : 'ltr' });

    /* Launcher */
    var launcher = make('button', {
      type: 'button', class: 'hcc-launcher', 'aria-expanded': 'false', 'aria-controls': 'hcc-panel',
      lang: state.lang, dir: state.dir, 'data-testid': 'launcher'
    });
    launcher.appendChild(icon(['M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'], '24'));
    launcher.appendChild(label(make('span', { class: 'hcc-launcher__text' }), 'launcher'));
    wrap.appendChild(launcher);

    /* Panel: a non-modal dialog; modal only when it fills a small screen. */
    var panel = make('div', {
      id: 'hcc-panel', class: 'hcc-panel', role: 'dialog', 'aria-modal': 'false', lang: state.lang, dir: state.dir,
      'aria-labelledby': 'hcc-title', tabindex: '-1', hidden: true, 'data-testid': 'chat-panel'
    });

    var header = make('div', { class: 'hcc-header' });
    var bar = make('div', { class: 'hcc-header__bar' });
    var exit = make('a', {
      href: config.exitUrl, rel: 'nofollow noreferrer', role: 'button', draggable: 'false',
      class: 'hcc-exit', 'data-testid': 'exit'
    });
    exit.appendChild(label(make('span', { class: 'hcc-exit__text' }), 'exit'));
    var dots = make('span', { class: 'hcc-exit__indicator', 'aria-hidden': 'true' });
    for (var d = 0; d < SHIFT_PRESSES; d++) {
      dots.appendChild(make('span', { class: 'hcc-exit__dot' }));
    }
    exit.appendChild(dots);
    bar.appendChild(exit);
    var close = make('button', { type: 'button', class: 'hcc-close', 'data-testid': 'close' });
    label(close, 'close', 'aria-label');
    close.appendChild(icon(['M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12 19 6.4 17.6 5 12 10.6z'], '24'));
    bar.appendChild(close);
    header.appendChild(bar);
    header.appendChild(label(make('h2', { id: 'hcc-title', class: 'hcc-title' }), 'title'));
    panel.appendChild(header);

    var body = make('div', { class: 'hcc-body', 'data-testid': 'chat-body' });
    var notices = make('div', { class: 'hcc-notices' });
    notices.appendChild(label(make('p', { class: 'hcc-notice hcc-notice--strong', 'data-testid': 'confidential' }), 'confidential'));
    notices.appendChild(label(make('p', { class: 'hcc-notice', 'data-testid': 'shared-device' }), 'shared_device'));
    notices.appendChild(label(make('p', { class: 'hcc-notice hcc-notice--hint' }), 'exit_hint'));
    body.appendChild(notices);

    var log = make('div', {
      id: 'hcc-log', class: 'hcc-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'data-testid': 'transcript'
    });
    label(log, 'conversation', 'aria-label');
    body.appendChild(log);

    // The outer live region is always there; showing the indicator inside it announces it.
    var typingRegion = make('div', { class: 'hcc-typing-region', 'aria-live': 'polite' });
    var typing = make('div', { class: 'hcc-typing', hidden: true, 'data-testid': 'typing' });
    var typingDots = make('span', { class: 'hcc-typing__dots', 'aria-hidden': 'true' });
    for (var i = 0; i < 3; i++) {
      typingDots.appendChild(make('span', { class: 'hcc-typing__dot' }));
    }
    typing.appendChild(typingDots);
    typing.appendChild(label(make('span', { class: 'hcc-visually-hidden' }), 'typing'));
    typingRegion.appendChild(typing);
    body.appendChild(typingRegion);
    panel.appendChild(body);

    var footer = make('div', { class: 'hcc-footer' });
    var status = make('p', { class: 'hcc-status', role: 'status', 'data-testid': 'status' });
    footer.appendChild(status);
    var form = make('form', { class: 'hcc-composer', autocomplete: 'off', novalidate: true });
    form.appendChild(label(make('label', { for: 'hcc-input', class: 'hcc-composer__label' }), 'input_label'));
    var row = make('div', { class: 'hcc-composer__row' });
    // No name attribute: the text never goes into a URL or a form submission, and
    // autocomplete="off" keeps it out of the browser's saved form entries.
    var input = make('input', {
      type: 'text', id: 'hcc-input', class: 'hcc-input', maxlength: String(MAX_LENGTH), autocomplete: 'off',
      autocapitalize: 'sentences', spellcheck: 'true', dir: 'auto', 'aria-describedby': 'hcc-hint',
      enterkeyhint: 'send', 'data-testid': 'message-input'
    });
    row.appendChild(input);
    row.appendChild(label(make('button', { type: 'submit', class: 'hcc-send', 'data-testid': 'send' }), 'send'));
    form.appendChild(row);
    form.appendChild(label(make('p', { id: 'hcc-hint', class: 'hcc-hint' }), 'hint'));
    footer.appendChild(form);
    panel.appendChild(footer);
    wrap.appendChild(panel);

    // Shift-press progress, announced whether the chat is open or not.
    var announcer = make('div', {
      class: 'hcc-visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true', 'data-testid': 'exit-announcer'
    });
    wrap.appendChild(announcer);
    root.appendChild(wrap);

    ui = {
      host: host, root: root, wrap: wrap, launcher: launcher, panel: panel, exit: exit, dots: dots,
      close: close, body: body, log: log, typing: typing, status: status, form: form, input: input,
      announcer: announcer
    };

    launcher.addEventListener('click', function (e) {
      openPanel(launcher, e);
    });
    close.addEventListener('click', function () {
      closePanel(true);
    });
    exit.addEventListener('click', function (e) {
      quickExit(e, config.exitUrl);
    });
    exit.addEventListener('keydown', function (e) {
      if (e.key === ' ' || e.key === 'Spacebar') {
        quickExit(e, config.exitUrl);
      }
    });
    panel.addEventListener('keydown', onPanelKeydown);
    form.addEventListener('submit', onSubmit);

    (document.body || document.documentElement).appendChild(host);
  }

  /* ------------------------------------------------------------------ */
  /* Opening and closing                                                 */
  /* ------------------------------------------------------------------ */

  var fullScreen = window.matchMedia ? window.matchMedia('(max-width: 40em), (max-height: 30em)') : null;

  function isFullScreen() {
    return !!(fullScreen && fullScreen.matches);
  }

  function updateModality() {
    if (ui.panel) {
      // Filling the screen it hides the page, so it is modal then (focus stays inside).
      ui.panel.setAttribute('aria-modal', isFullScreen() ? 'true' : 'false');
    }
  }

  if (fullScreen) {
    if (fullScreen.addEventListener) {
      fullScreen.addEventListener('change', updateModality);
    } else if (fullScreen.addListener) {
      fullScreen.addListener(updateModality);
    }
  }

  function openPanel(opener, event) {
    if (state.exiting || !ui.panel) {
      return;
    }
    if (!state.open) {
      state.open = true;
      state.returnFocus = opener || ui.launcher;
      updateModality();
      ui.panel.hidden = false;
      ui.launcher.hidden = true;
      ui.launcher.setAttribute('aria-expanded', 'true');
      if (state.spoke) {
        scrollToEnd(true);
      }
      connect();
    }
    // Into the panel: the message box; after a tap on a touch screen, the panel itself, so
    // the on-screen keyboard does not cover the conversation.
    var touch = event && event.pointerType === 'touch' ||
      (window.matchMedia && window.matchMedia('(pointer: coarse)').matches && event && event.detail > 0);
    if (touch) {
      ui.panel.focus();
    } else {
      ui.input.focus();
    }
  }

  function closePanel(moveFocus) {
    if (!state.open || !ui.panel) {
      return;
    }
    state.open = false;
    ui.panel.hidden = true;
    ui.launcher.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'false');
    if (moveFocus) {
      var back = state.returnFocus && state.returnFocus.isConnected ? state.returnFocus : ui.launcher;
      if (back.hidden) {
        back = ui.launcher;
      }
      back.focus();
    }
    state.returnFocus = null;
  }

  function focusables() {
    var nodes = ui.panel.querySelectorAll('a[href], button, input, [tabindex="0"]');
    var out = [];
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      if (!n.disabled && n.offsetParent !== null) {
        out.push(n);
      }
    }
    return out;
  }

  function onPanelKeydown(e) {
    if (e.key === 'Escape' || e.key === 'Esc') {
      e.preventDefault();
      e.stopPropagation();
      closePanel(true);
      return;
    }
    if (e.key === 'Tab' && isFullScreen()) {
      // The panel covers the page: Tab cycles inside it rather than into what it hides.
      var list = focusables();
      if (!list.length) {
        return;
      }
      var active = ui.root.activeElement || document.activeElement;
      var first = list[0];
      var last = list[list.length - 1];
      if (e.shiftKey && (active === first || active === ui.panel)) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && active === last) {
        e.preventDefault();
        first.focus();
      }
    }
  }

  // Page buttons that open the chat (data-hate-crime-chat-open), shown once the widget runs.
  function wireOpeners() {
    var nodes = document.querySelectorAll('[' + OPEN_ATTR + ']');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].hidden = false;
      nodes[i].setAttribute('aria-controls', 'hate-crime-chat');
    }
    document.addEventListener('click', function (e) {
      var opener = e.target && e.target.closest ? e.target.closest('[' + OPEN_ATTR + ']') : null;
      if (opener) {
        e.preventDefault();
        openPanel(opener, e);
      }
    });
  }

  /* ------------------------------------------------------------------ */
  /* Language                                                            */
  /* ------------------------------------------------------------------ */

  function applyUi(data) {
    if (!data || typeof data !== 'object') {
      return;
    }
    if (data.ui && typeof data.ui === 'object') {
      state.ui = data.ui;
    }
    if (typeof data.lang === 'string' && data.lang) {
      state.lang = data.lang;
    }
    state.dir = data.dir === 'rtl' ? 'rtl' : 'ltr';
    if (ui.wrap) {
      ui.wrap.setAttribute('lang', state.lang);
      [ui.launcher, ui.panel].forEach(function (node) {
        node.setAttribute('lang', state.lang);
        node.setAttribute('dir', state.dir);
      });
    }
    labels.forEach(function (l) {
      setLabel(l.node, l.key, l.attr);
    });
  }

  /* ------------------------------------------------------------------ */
  /* Transcript                                                          */
  /* ------------------------------------------------------------------ */

  function nearBottom() {
    var b = ui.body;
    return b.scrollHeight - b.scrollTop - b.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (ui.body && (force || nearBottom())) {
      ui.body.scrollTop = ui.body.scrollHeight;
    }
  }

  // The bot's replies are shown from the start of the turn's first one, so a long message (the
  // 999 advice) is read from its top; before anyone has written, from the top of the panel,
  // with the confidentiality and shared-device notices.
  function scrollToTurn() {
    var b = ui.body;
    var top = 0;
    if (state.turnStart) {
      top = state.turnStart.getBoundingClientRect().top - b.getBoundingClientRect().top + b.scrollTop - 8;
    }
    b.scrollTop = Math.max(0, Math.min(b.scrollHeight - b.clientHeight, top));
  }

  function newEntry(kind) {
    var wrap = make('div', { class: 'hcc-msg hcc-msg--' + kind });
    // "Assistant said:" / "You said:", in the widget's language, for screen readers.
    wrap.appendChild(make('span', { class: 'hcc-visually-hidden', lang: state.lang },
      t(kind === 'bot' ? 'assistant_said' : 'you_said') + ' '));
    return wrap;
  }

  function appendUser(text, lang) {
    var wrap = newEntry('user');
    wrap.appendChild(make('p', {
      class: 'hcc-msg__text', dir: 'auto', lang: lang || state.lang, 'data-testid': 'user-message'
    }, text));
    ui.log.appendChild(wrap);
    state.turnStart = null; // the bot's next reply starts a turn
    state.spoke = true;
    scrollToEnd(true); // your own message always scrolls into view
    return wrap;
  }

  function disableReplies() {
    var old = ui.log.querySelectorAll('.hcc-reply');
    for (var i = 0; i < old.length; i++) {
      old[i].disabled = true;
    }
  }

  // The bot's text, as text nodes; "999" becomes a link that dials it on a phone.
  function fillText(node, text) {
    text.split(/(\b999\b)/).forEach(function (part, i) {
      if (i % 2) {
        node.appendChild(make('a', { href: 'tel:999', class: 'hcc-tel' }, part));
      } else if (part) {
        node.appendChild(document.createTextNode(part));
      }
    });
  }

  function renderBot(m) {
    var lang = typeof m.lang === 'string' && m.lang ? m.lang : state.lang;
    var wrap = newEntry('bot');
    var text = m.text === null || m.text === undefined ? '' : String(m.text);
    if (text.trim()) {
      var p = make('p', { class: 'hcc-msg__text', dir: 'auto', lang: lang, 'data-testid': 'bot-message' });
      fillText(p, text);
      wrap.appendChild(p);
    }
    var replies = Array.isArray(m.quick_replies) ? m.quick_replies : [];
    var group = null;
    replies.forEach(function (reply) {
      if (!reply || typeof reply !== 'object') {
        return;
      }
      var title = reply.title !== null && reply.title !== undefined ? String(reply.title) : '';
      var payload = reply.payload !== null && reply.payload !== undefined ? String(reply.payload) : title;
      title = title || payload;
      if (!payload) {
        return;
      }
      if (!group) {
        // Only the newest question's buttons answer anything: an older button pressed later
        // would answer whatever question is current.
        disableReplies();
        group = make('div', { class: 'hcc-replies', role: 'group', lang: lang });
        group.setAttribute('aria-label', t('reply_options'));
      }
      var button = make('button', {
        type: 'button', class: 'hcc-reply', dir: 'auto', 'data-testid': 'quick-reply'
      }, title);
      button.addEventListener('click', function (e) {
        if (button.disabled || state.exiting) {
          return;
        }
        button.classList.add('is-chosen');
        send(payload, title, lang);
        // The pressed button is now off. Keyboard users (a click with detail 0) go on in
        // the message box; on touch screens focus stays put, so no keyboard pops up.
        if (e.detail === 0) {
          ui.input.focus();
        }
      });
      group.appendChild(button);
    });
    if (group) {
      wrap.appendChild(group);
    }
    if (wrap.childNodes.length > 1) {
      ui.log.appendChild(wrap);
      if (state.spoke && !state.turnStart) {
        state.turnStart = wrap;
      }
      scrollToTurn();
    }
  }

  function onBotUttered(m) {
    if (state.exiting || !m || typeof m !== 'object') {
      return;
    }
    var seq = typeof m.seq === 'number' ? m.seq : parseFloat(m.seq);
    if (!isNaN(seq)) {
      // A replay after a reconnect never shows a message twice.
      if (state.lastSeq !== null && seq <= state.lastSeq) {
        return;
      }
      state.lastSeq = seq;
    }
    renderBot(m);
  }

  /* ------------------------------------------------------------------ */
  /* Status line and typing indicator                                    */
  /* ------------------------------------------------------------------ */

  function setStatus(key, problem, clearAfterMs) {
    if (!ui.status) {
      return;
    }
    clearTimeout(state.statusTimer);
    ui.status.textContent = key ? t(key) : '';
    ui.status.classList.toggle('is-problem', !!problem);
    if (clearAfterMs) {
      state.statusTimer = setTimeout(function () {
        if (ui.status) {
          ui.status.textContent = '';
          ui.status.classList.remove('is-problem');
        }
      }, clearAfterMs);
    }
  }

  function setTyping(on) {
    if (!ui.typing) {
      return;
    }
    clearTimeout(state.typingTimer);
    ui.typing.hidden = !on;
    if (on) {
      state.typingTimer = setTimeout(function () { setTyping(false); }, TYPING_TIMEOUT_MS);
    }
  }

  function announce(text) {
    if (!ui.announcer) {
      return;
    }
    // Re-set, so the same words are announced again.
    ui.announcer.textContent = '';
    setTimeout(function () {
      if (ui.announcer) {
        ui.announcer.textContent = text;
      }
    }, 50);
  }

  function showShiftProgress(count) {
    if (!ui.dots) {
      return;
    }
    var dots = ui.dots.children;
    for (var i = 0; i < dots.length; i++) {
      dots[i].classList.toggle('is-on', i < count);
    }
    ui.exit.classList.toggle('is-counting', count > 0);
  }

  /* ------------------------------------------------------------------ */
  /* Sending                                                             */
  /* ------------------------------------------------------------------ */

  function canSend() {
    return !state.exiting && !!state.socket && state.socket.connected && state.confirmed;
  }

  function newId() {
    state.counter += 1;
    var random = '';
    try {
      var bytes = new Uint8Array(8);
      window.crypto.getRandomValues(bytes);
      for (var i = 0; i < bytes.length; i++) {
        random += ('0' + bytes[i].toString(16)).slice(-2);
      }
    } catch (e) {
      random = Math.random().toString(16).slice(2) + Date.now().toString(16);
    }
    return random + '-' + state.counter;
  }

  function markNotSent(item, key) {
    if (!item.wrap) {
      return;
    }
    if (!item.note) {
      item.note = make('p', { class: 'hcc-msg__note', lang: state.lang, 'data-testid': 'not-sent' });
      item.wrap.appendChild(item.note);
    }
    item.note.textContent = t(key || 'not_sent');
    scrollToEnd(false);
  }

  function clearNote(item) {
    if (item.note && item.note.parentNode) {
      item.note.parentNode.removeChild(item.note);
    }
    item.note = null;
  }

  // Messages go one at a time, in order: the next once the server has acknowledged the one
  // before (it acknowledges when it has handled it). After a reconnect the first unacknowledged
  // one is sent again with the id it was first given: the server handles each id once, however
  // often it arrives.
  function pump() {
    if (!canSend() || !state.queue.length) {
      return;
    }
    var head = state.queue[0];
    if (head.epoch === state.epoch) {
      return; // in flight on this session already
    }
    head.epoch = state.epoch;
    var socket = state.socket;
    socket.emit('user_uttered', { message: head.message, id: head.id }, function (result) {
      onAck(head, result);
    });
  }

  function onAck(item, result) {
    if (state.exiting) {
      return;
    }
    var index = state.queue.indexOf(item);
    if (index < 0) {
      return; // acknowledged already (the answer to a resend)
    }
    var reason = result && !result.ok ? result.reason : null;
    if (reason === 'no_session') {
      // The server has no session for this connection: ask again; the queue goes on after.
      item.epoch = null;
      if (state.socket && state.socket.connected) {
        state.confirmed = false;
        requestSession();
      }
      return;
    }
    state.queue.splice(index, 1);
    clearNote(item);
    if (reason === 'too_long' || reason === 'rate_limited') {
      markNotSent(item, reason);
      setStatus(reason, true, STATUS_CLEAR_MS);
    }
    pump();
  }

  function send(message, shown, lang) {
    if (state.exiting) {
      return;
    }
    disableReplies();
    var item = { id: newId(), message: message, wrap: appendUser(shown, lang), note: null, epoch: null };
    state.queue.push(item);
    if (canSend()) {
      pump();
    } else {
      markNotSent(item);
      connect();
    }
  }

  function onSubmit(e) {
    e.preventDefault();
    if (state.exiting) {
      return;
    }
    var text = ui.input.value.trim().slice(0, MAX_LENGTH);
    if (!text) {
      ui.input.focus();
      return;
    }
    ui.input.value = '';
    send(text, text, null);
    ui.input.focus();
  }

  /* ------------------------------------------------------------------ */
  /* Connection                                                          */
  /* ------------------------------------------------------------------ */

  // The socket.io client, from this widget's own origin, without taking over a window.io the
  // page may have of its own.
  function loadSocketIo(done) {
    if (state.io) {
      if (done) {
        done(state.io);
      }
      return;
    }
    if (done) {
      state.ioWaiting.push(done);
    }
    if (state.ioLoading) {
      return;
    }
    state.ioLoading = true;
    var before = window.io;
    var script = document.createElement('script');
    script.src = asset('vendor/socket.io.min.js');
    script.async = true;
    script.onload = script.onerror = function () {
      var loaded = window.io;
      if (typeof loaded === 'function' && loaded !== before) {
        state.io = loaded;
        if (before === undefined) {
          try { delete window.io; } catch (err) { window.io = undefined; }
        } else {
          window.io = before;
        }
      } else if (typeof loaded === 'function') {
        state.io = loaded;
      }
      state.ioLoading = false;
      var waiting = state.ioWaiting;
      state.ioWaiting = [];
      waiting.forEach(function (fn) { fn(state.io || null); });
      if (script.parentNode) {
        script.parentNode.removeChild(script);
      }
    };
    (document.head || document.documentElement).appendChild(script);
  }

  function requestSession() {
    state.socket.emit('session_request', {
      token: state.token,
      last_seen: state.lastSeq,
      lang: config.language
    });
  }

  function connect() {
    if (state.socket || state.exiting || state.connecting) {
      return;
    }
    state.connecting = true;
    setStatus('connecting', false);
    loadSocketIo(function (io) {
      state.connecting = false;
      if (state.exiting || state.socket) {
        return;
      }
      if (!io) {
        setStatus('unavailable', true);
        return;
      }
      var socket = io(config.socketUrl, {
        path: config.socketPath,
        transports: ['websocket', 'polling'],
        withCredentials: false,
        reconnection: true,
        reconnectionDelay: 1000,
        reconnectionDelayMax: 5000,
        timeout: 10000
      });
      state.socket = socket;

      socket.on('connect', function () {
        if (state.exiting) {
          return;
        }
        state.confirmed = false;
        requestSession();
      });

      socket.on('session_confirm', function (data) {
        if (state.exiting || !data || typeof data !== 'object' || !data.token) {
          return;
        }
        var hadConversation = state.token !== null || state.lastSeq !== null;
        var reconnect = state.everConfirmed;
        state.token = String(data.token);
        state.confirmed = true;
        state.epoch += 1;
        state.everConfirmed = true;
        applyUi(data);
        if (!data.resumed) {
          state.lastSeq = null; // a new conversation: its messages are all new
        }
        if (!data.resumed && hadConversation) {
          setStatus('restarted', true, 4 * STATUS_CLEAR_MS);
        } else if (reconnect) {
          setStatus('reconnected', false, STATUS_CLEAR_MS);
        } else {
          setStatus('', false);
        }
        pump();
      });

      socket.on('bot_uttered', onBotUttered);
      socket.on('bot_typing', function (data) {
        if (!state.exiting) {
          setTyping(!!(data && data.typing));
        }
      });
      socket.on('ui', function (data) {
        if (!state.exiting) {
          applyUi(data);
        }
      });

      socket.on('disconnect', function (reason) {
        state.confirmed = false;
        setTyping(false);
        if (state.exiting || reason === 'io client disconnect') {
          return;
        }
        setStatus('reconnecting', true);
        state.queue.forEach(function (item) { markNotSent(item); });
        if (reason === 'io server disconnect') {
          socket.connect(); // closed by the server on purpose: socket.io does not retry itself
        }
      });

      socket.on('connect_error', function () {
        if (state.exiting) {
          return;
        }
        setStatus(state.everConfirmed ? 'reconnecting' : 'cannot_reach', true);
        if (!socket.active) {
          setTimeout(function () {
            if (!state.exiting && state.socket === socket && !socket.connected) {
              socket.connect();
            }
          }, 5000);
        }
      });
    });
  }

  /* ------------------------------------------------------------------ */
  /* Start                                                               */
  /* ------------------------------------------------------------------ */

  function start() {
    if (state.exiting) {
      return;
    }
    build();
    wireOpeners();
    // Fetch the client now (from this widget's own origin) so opening is quick; nothing
    // connects until the chat is opened.
    var idle = window.requestIdleCallback || function (fn) { return setTimeout(fn, 1); };
    if (document.readyState === 'complete') {
      idle(function () { loadSocketIo(null); });
    } else {
      window.addEventListener('load', function () {
        idle(function () { loadSocketIo(null); });
      });
    }
  }

  if (document.body) {
    start();
  } else {
    document.addEventListener('DOMContentLoaded', start);
  }
}());

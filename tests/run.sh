#!/usr/bin/env bash
# The test command (README.md, .ci/run): installs what the suites need, then ruff, mypy, pytest.
# Debian packages are installed when we are root (or have sudo); a venv in .venv holds Python ones.
# Extra arguments go to pytest, e.g. `bash tests/run.sh tests/core -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Dovecot (POP3 source; IMAP, LMTP and LDA delivery targets), mpopd (mpop: a POP3 peer that
# counts LIST in LF form), procmail and mutt (MDA and mbox targets), the Secret Service, Xvfb,
# desktop-file-utils (the .desktop file), and the shared libraries Qt's plugins load.
packages=(python3-venv desktop-file-utils dovecot-pop3d gnome-keyring dbus-daemon dbus libsecret-tools
          xvfb xauth libegl1 libgl1 libfontconfig1 libglib2.0-0 libdbus-1-3 libxkbcommon0
          libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
          libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 openssl
          dovecot-imapd dovecot-lmtpd procmail mutt mpop
          dunst trayer)  # tests/gui/desktop: a notification daemon and a tray host
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
install_missing() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || return 1
        sudo="sudo"
        [ -t 0 ] || sudo="sudo -n"  # no terminal: never wait for a password prompt
    fi
    echo "tests/run.sh: installing ${missing[*]}"
    # Installing dovecot must not start the system service (the tests run their own), so
    # service starts are refused for the length of the install, and only then.
    local policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
    fi
    local status=0
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null || status=$?
    [ -z "$policy" ] || $sudo rm -f "$policy"
    return $status
}
if ((${#missing[@]})) && ! install_missing; then
    echo "tests/run.sh: could not install ${missing[*]}; the suites that need them skip"
fi

py=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check core gui tests
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"

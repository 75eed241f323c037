#!/bin/sh
# Heroku start-up: write Streamlit's server settings for this dyno, then the Procfile starts
# `streamlit run`. Heroku routes HTTP(S) to $PORT; WebRTC media cannot reach a dyno directly,
# so the live webcam needs a TURN relay (see docs/DEPLOY.md).
set -e
mkdir -p "$HOME/.streamlit"
cat > "$HOME/.streamlit/config.toml" <<TOML
[server]
headless = true
port = ${PORT:-8501}
address = "0.0.0.0"
fileWatcherType = "none"

[browser]
gatherUsageStats = false

[client]
toolbarMode = "viewer"
showErrorDetails = "none"
TOML

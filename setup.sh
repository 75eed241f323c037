#!/bin/sh
# Heroku start-up, sourced by the Procfile (`. ./setup.sh`): this dyno's server settings as
# Streamlit's environment variables, which take precedence over the project's
# .streamlit/config.toml for these options and leave every other setting of it (upload cap,
# XSRF, error details) in force. Nothing is written: a dyno's HOME is the app's folder, so a
# ~/.streamlit/config.toml written here would replace the project's own (tests/test_deploy.py).
# Heroku routes HTTP(S) to $PORT; WebRTC media cannot reach a dyno directly, so the live webcam
# needs a TURN relay (see docs/DEPLOY.md).
export STREAMLIT_SERVER_PORT="${PORT:-8501}"
export STREAMLIT_SERVER_ADDRESS="0.0.0.0"
export STREAMLIT_SERVER_HEADLESS="true"
export STREAMLIT_SERVER_FILE_WATCHER_TYPE="none"

# Single sign-on (auth.mode oidc). ollama_infra.userdata appends this to ollama-boot.sh only
# for oidc stacks, so local stacks boot the unchanged script. It wraps webui_env: the local
# settings minus the headless admin, plus Open WebUI's OIDC settings. The client secret is
# read from Secrets Manager here, at boot, and only reaches the 0600 env file. Names and the
# callback path were checked against Open WebUI v0.9.6 (docs/UPSTREAM.md).
eval "webui_local_env() $(declare -f webui_env | tail -n +2)"

webui_oidc_env() {
  local oidc url secret
  optional_param webui/oidc
  [[ -n $PARAM ]] || die "auth.mode is oidc but parameter $PARAMETER_PREFIX/webui/oidc is absent; run pulumi up"
  oidc=$PARAM
  optional_param webui/public-url
  url=$PARAM
  [[ -n $url ]] || die "single sign-on needs the public URL ($PARAMETER_PREFIX/webui/public-url) for its callback"
  secret=$(get_secret "$(jq -r .client_secret_arn <<<"$oidc")")
  [[ -n $secret && $secret != None ]] || die "the OIDC client secret is empty"
  # oauth.* settings: read from this file at every start while this stays false (the default).
  env_line ENABLE_OAUTH_PERSISTENT_CONFIG false
  env_line ENABLE_PASSWORD_AUTH false
  env_line ENABLE_LOGIN_FORM false
  env_line ENABLE_OAUTH_SIGNUP true
  env_line OAUTH_PROVIDER_NAME "$(jq -r .provider_name <<<"$oidc")"
  env_line OPENID_PROVIDER_URL "$(jq -r .provider_url <<<"$oidc")"
  env_line OAUTH_CLIENT_ID "$(jq -r .client_id <<<"$oidc")"
  env_line OAUTH_CLIENT_SECRET "$secret"
  env_line OAUTH_SCOPES "$(jq -r .scopes <<<"$oidc")"
  env_line OPENID_REDIRECT_URI "$url/oauth/oidc/callback"
  env_line OAUTH_ALLOWED_DOMAINS "$(jq -r '.allowed_domains | if length == 0 then "*" else join(",") end' <<<"$oidc")"
  env_line ENABLE_OAUTH_ROLE_MANAGEMENT true
  env_line OAUTH_ROLES_CLAIM "$(jq -r .groups_claim <<<"$oidc")"
  env_line OAUTH_ALLOWED_ROLES "$(jq -r '[.user_group, .admin_group] | join(",")' <<<"$oidc")"
  env_line OAUTH_ADMIN_ROLES "$(jq -r .admin_group <<<"$oidc")"
  log "Open WebUI signs users in through ${SIGN_IN_MODE:-oidc} ($(jq -r .provider_url <<<"$oidc")); login form and local passwords off" >&2
}

webui_env() {
  local base
  base=$(webui_local_env) || exit 1
  grep -v -E '^WEBUI_ADMIN_(EMAIL|PASSWORD)=' <<<"$base"
  webui_oidc_env || exit 1
}

//! `aecl serve --oidc-*`: people sign in with tokens from the company's IdP. The issuer and
//! audience are required to match, the role comes from a claim through `--oidc-role-map`
//! (a value mapped to `agent` makes IdP tokens agents' too; without one they never are).

use aecl_engine::identity::{OidcConfig, Role};
use aecl_server::{Idp, JwksSource};
use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, clap::Args)]
pub struct OidcArgs {
    /// The IdP's issuer (`iss`) exactly, e.g. `https://login.example.com/realms/corp`.
    #[arg(long, value_name = "URL", requires_all = ["oidc_jwks", "oidc_audience", "oidc_role_map"])]
    pub oidc_issuer: Option<String>,
    /// The IdP's keys: a JWKS file, or its `https://` URL (fetched with a 5 s timeout,
    /// cached, fetched again for an unknown `kid` at most every 10 s and after 15 min).
    #[arg(long, value_name = "FILE|URL", requires = "oidc_issuer")]
    pub oidc_jwks: Option<String>,
    /// The audience (`aud`) tokens must name: the client id aecl is registered as.
    #[arg(long, value_name = "AUD", requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,
    /// The claim holding the person's groups or roles (a dotted path reaches into objects:
    /// `realm_access.roles`).
    #[arg(long, value_name = "CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,
    /// `VALUE=ROLE`: a claim value and the aecl role it grants (`approver`, `admin`; or
    /// `agent`, only where IdP tokens should act as agents). Repeatable; the first that
    /// the token holds wins.
    #[arg(long, value_name = "VALUE=ROLE", requires = "oidc_issuer")]
    pub oidc_role_map: Vec<String>,
    /// The claim naming the person in aecl's records (`preferred_username`, `email`).
    #[arg(long, value_name = "CLAIM", default_value = "sub")]
    pub oidc_subject_claim: String,
}

/// The IdP the flags describe, its keys read once now (a failure is logged: its tokens are
/// refused until a fetch succeeds, aecl's own tokens keep working).
pub async fn idp(args: &OidcArgs) -> Result<Option<Idp>> {
    let (Some(issuer), Some(jwks), Some(audience)) =
        (&args.oidc_issuer, &args.oidc_jwks, &args.oidc_audience)
    else {
        return Ok(None);
    };
    let role_map = args
        .oidc_role_map
        .iter()
        .map(|pair| {
            let Some((value, role)) = pair.rsplit_once('=') else {
                bail!("--oidc-role-map `{pair}`: expected VALUE=ROLE");
            };
            let Some(role) = Role::parse(role.trim()) else {
                bail!("--oidc-role-map `{pair}`: the role is `approver`, `admin` or `agent`");
            };
            if value.is_empty() {
                bail!("--oidc-role-map `{pair}`: the claim value is empty");
            }
            Ok((value.to_owned(), role))
        })
        .collect::<Result<Vec<_>>>()?;
    if issuer.trim().is_empty() || audience.trim().is_empty() {
        bail!("--oidc-issuer and --oidc-audience must not be empty");
    }
    let config = OidcConfig {
        issuer: issuer.clone(),
        audience: audience.clone(),
        role_claim: args.oidc_role_claim.clone(),
        role_map,
        subject_claim: args.oidc_subject_claim.clone(),
    };
    let source = JwksSource::parse(jwks)?;
    let idp = Idp::new(config, source).context("setting up the IdP")?;
    match idp.refresh().await {
        Ok(count) => tracing::info!(issuer = %issuer, keys = count, "IdP keys loaded"),
        Err(error) => {
            tracing::error!(issuer = %issuer, %error, "IdP keys could not be read: its tokens are refused until they can");
        }
    }
    Ok(Some(idp))
}

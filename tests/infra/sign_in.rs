//! Signing in on AWS: the UI sends people to Cognito's managed login (authorization code with
//! PKCE, on the web client), comes back to its own address, and calls the API with the ID
//! token, which the HTTP API's JWT authorizer checks. The api function tells the UI where to go
//! (`GET /api/v2/auth/config`, from the `KILN_OIDC_*` settings). Cognito, API Gateway and the
//! UI only agree if the template's parts name the same things; moto checks none of it, so
//! these tests hold each part to the others.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::{parsed, text_of};

/// A value as the text of a `!Sub`: `!Ref X` is `${X}`, `!GetAtt X.Y` is `${X.Y}`, `!Sub "…"`
/// its template, a plain string itself.
fn expr(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) if t.tag == "Sub" => t
            .value
            .as_str()
            .unwrap_or_else(|| panic!("a !Sub of a single string: {v:?}"))
            .to_owned(),
        Value::Tagged(t) if t.tag == "Ref" => format!("${{{}}}", t.value.as_str().unwrap()),
        Value::Tagged(t) if t.tag == "GetAtt" => match &t.value {
            Value::String(s) => format!("${{{s}}}"),
            Value::Sequence(parts) => format!("${{{}.{}}}", text_of(&parts[0]), text_of(&parts[1])),
            other => panic!("!GetAtt {other:?}"),
        },
        other => panic!("not a reference or a string: {other:?}"),
    }
}

/// The values of a list property, each as [`expr`] reads it.
fn exprs(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("a list: {v:?}"))
        .iter()
        .map(expr)
        .collect()
}

/// The template's resources of `kind`, by logical id.
fn resources<'t>(t: &'t Value, kind: &str) -> Vec<(String, &'t Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), &r["Properties"]))
        .collect()
}

/// The only resource of `kind`.
fn the_one<'t>(t: &'t Value, kind: &str) -> (String, &'t Value) {
    let mut all = resources(t, kind);
    assert_eq!(all.len(), 1, "one {kind}: {all:?}");
    all.remove(0)
}

/// A setting both functions get (`Globals`), as [`expr`] reads it.
fn setting(t: &Value, name: &str) -> String {
    let v = &t["Globals"]["Function"]["Environment"]["Variables"][name];
    assert!(!v.is_null(), "the functions get no {name}");
    expr(v)
}

/// `v` evaluated as CloudFormation would in a stack whose id is `stack_id`: `!Sub` (with its
/// own variables), `!Select`, `!Split`, `!Join` and `!Ref` to a parameter's default or to
/// `AWS::StackId`/`AWS::Region`.
fn evaluate(t: &Value, v: &Value, stack_id: &str) -> String {
    let Value::Tagged(tagged) = v else {
        // A number comes back as YAML, with a line break.
        return text_of(v).trim_end().to_owned();
    };
    let args = &tagged.value;
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::Sequence(items) => items.iter().map(|i| evaluate(t, i, stack_id)).collect(),
            one => evaluate(t, one, stack_id)
                .split(',')
                .map(str::to_owned)
                .collect(),
        }
    };
    let variable = |name: &str, own: Option<&Value>| -> String {
        if let Some(v) = own.and_then(|vars| vars.get(name)) {
            return evaluate(t, v, stack_id);
        }
        match name {
            "AWS::StackId" => stack_id.to_owned(),
            "AWS::Region" => "us-east-1".to_owned(),
            param => text_of(&t["Parameters"][param]["Default"]),
        }
    };
    match tagged.tag.to_string().as_str() {
        "!Ref" => variable(args.as_str().unwrap(), None),
        "!Select" => {
            let i = evaluate(t, &args[0], stack_id).parse::<usize>().unwrap();
            list(&args[1])[i].clone()
        }
        "!Split" => evaluate(t, &args[1], stack_id)
            .split(text_of(&args[0]).as_str())
            .collect::<Vec<_>>()
            .join(","),
        "!Join" => list(&args[1]).join(&text_of(&args[0])),
        "!Sub" => {
            let (template, own) = match args {
                Value::Sequence(pair) => (text_of(&pair[0]), Some(&pair[1])),
                one => (text_of(one), None),
            };
            let mut out = String::new();
            let mut rest = template.as_str();
            while let Some(at) = rest.find("${") {
                out.push_str(&rest[..at]);
                let end = rest[at..].find('}').unwrap() + at;
                out.push_str(&variable(&rest[at + 2..end], own));
                rest = &rest[end + 1..];
            }
            out + rest
        }
        other => panic!("{other} is not evaluated here: {v:?}"),
    }
}

/// Cognito sends the browser back only to a URL the client lists, compared character for
/// character, and the UI sends exactly its own address with a slash (`location.origin + "/"`):
/// the web client's callback and sign-out URLs are the `UiUrl` output and a slash, and nothing
/// else.
#[test]
fn the_web_client_sends_people_back_to_the_ui_and_nowhere_else() {
    let t = parsed();
    let (_, client) = the_one(&t, "AWS::Cognito::UserPoolClient");
    let ui = expr(&t["Outputs"]["UiUrl"]["Value"]);
    assert!(
        ui.starts_with("https://") && !ui.ends_with('/'),
        "UiUrl is an origin: {ui}"
    );
    let back = vec![format!("{ui}/")];
    assert_eq!(exprs(&client["CallbackURLs"]), back, "callback URLs");
    assert_eq!(exprs(&client["LogoutURLs"]), back, "sign-out URLs");
    let page = std::fs::read_to_string(crate::repo().join("static/signin.js")).unwrap();
    assert!(
        page.contains("const redirectUri = () => `${location.origin}/`;"),
        "the UI comes back to its origin and a slash, wherever it started signing in"
    );
}

/// The UI is a public client of the authorization code flow with PKCE: Cognito gives it no
/// secret (a page cannot keep one), and no tokens in the address bar (no implicit flow); it
/// may ask for every scope the UI asks for (`KILN_OIDC_SCOPES`, which must include `openid`
/// for an ID token), and signs in with the pool's own users.
#[test]
fn the_web_client_is_a_public_client_of_the_code_flow() {
    let t = parsed();
    let (_, client) = the_one(&t, "AWS::Cognito::UserPoolClient");
    assert_eq!(
        client["AllowedOAuthFlowsUserPoolClient"],
        Value::Bool(true),
        "without it Cognito's OAuth endpoints refuse the client"
    );
    assert_eq!(exprs(&client["AllowedOAuthFlows"]), ["code"]);
    assert!(
        matches!(&client["GenerateSecret"], Value::Null | Value::Bool(false)),
        "a public client has no secret: {:?}",
        client["GenerateSecret"]
    );
    let allowed: BTreeSet<String> = exprs(&client["AllowedOAuthScopes"]).into_iter().collect();
    let asked = setting(&t, "KILN_OIDC_SCOPES");
    let asked: BTreeSet<String> = asked.split_whitespace().map(str::to_owned).collect();
    assert!(asked.contains("openid"), "{asked:?}");
    assert!(
        asked.is_subset(&allowed),
        "the UI asks for {asked:?}; the client allows {allowed:?}"
    );
    assert!(exprs(&client["SupportedIdentityProviders"]).contains(&"COGNITO".to_owned()));
}

/// The API takes the tokens the UI gets: its one JWT authorizer reads the bearer token, with
/// the user pool's issuer (the `KILN_OIDC_ISSUER` the UI is told) and the web client as
/// audience (the client the UI signs in with, `KILN_OIDC_AUDIENCE`: an ID token's `aud`).
#[test]
fn the_api_takes_the_tokens_the_ui_is_given() {
    let t = parsed();
    let (client_id, client) = the_one(&t, "AWS::Cognito::UserPoolClient");
    let pool = expr(&client["UserPoolId"]);
    let (_, authorizer) = the_one(&t, "AWS::ApiGatewayV2::Authorizer");
    assert_eq!(text_of(&authorizer["ApiId"]), "HttpApi");
    assert_eq!(authorizer["AuthorizerType"], "JWT");
    assert_eq!(
        exprs(&authorizer["IdentitySource"]),
        ["$request.header.Authorization"]
    );
    let jwt = &authorizer["JwtConfiguration"];
    let issuer = format!("https://cognito-idp.${{AWS::Region}}.amazonaws.com/{pool}");
    assert_eq!(expr(&jwt["Issuer"]), issuer, "the authorizer's issuer");
    assert_eq!(
        setting(&t, "KILN_OIDC_ISSUER"),
        issuer,
        "the issuer the UI is told"
    );
    let client_ref = format!("${{{client_id}}}");
    assert_eq!(exprs(&jwt["Audience"]), std::slice::from_ref(&client_ref));
    assert_eq!(
        setting(&t, "KILN_OIDC_AUDIENCE"),
        client_ref,
        "the UI signs in with the client whose tokens the API takes"
    );
    assert_eq!(expr(&t["Outputs"]["UserPoolClientId"]["Value"]), client_ref);
}

/// Where the UI signs in, gets and refreshes tokens, and signs out are Cognito's endpoints on
/// the user pool's own domain (`https://<prefix>.auth.<region>.amazoncognito.com`:
/// `/oauth2/authorize`, `/oauth2/token`, `/logout`). The domain serves managed login (a pool
/// on the Essentials or Plus plan), whose pages show only for a client with a branding style;
/// its prefix is one Cognito takes
/// (lowercase letters, digits and hyphens, without `aws`, `amazon` or `cognito`) and unique
/// to the stack.
#[test]
fn the_sign_in_endpoints_are_on_the_user_pool_domain() {
    let t = parsed();
    let (client_id, client) = the_one(&t, "AWS::Cognito::UserPoolClient");
    let (domain_id, domain) = the_one(&t, "AWS::Cognito::UserPoolDomain");
    assert_eq!(expr(&domain["UserPoolId"]), expr(&client["UserPoolId"]));
    let host = format!("https://${{{domain_id}}}.auth.${{AWS::Region}}.amazoncognito.com");
    for (name, path) in [
        ("KILN_OIDC_AUTHORIZATION_ENDPOINT", "/oauth2/authorize"),
        ("KILN_OIDC_TOKEN_ENDPOINT", "/oauth2/token"),
        ("KILN_OIDC_END_SESSION_ENDPOINT", "/logout"),
    ] {
        assert_eq!(setting(&t, name), format!("{host}{path}"), "{name}");
    }
    assert_eq!(expr(&t["Outputs"]["SignInUrl"]["Value"]), host);

    assert_eq!(
        domain["ManagedLoginVersion"].as_u64(),
        Some(2),
        "managed login"
    );
    let pool = expr(&domain["UserPoolId"]);
    let pool = pool.trim_start_matches("${").trim_end_matches('}');
    let tier = &t["Resources"][pool]["Properties"]["UserPoolTier"];
    assert!(
        matches!(tier.as_str(), Some("ESSENTIALS" | "PLUS")),
        "on the Lite plan there is no managed login: {tier:?}"
    );
    let styled: Vec<String> = resources(&t, "AWS::Cognito::ManagedLoginBranding")
        .into_iter()
        .filter(|(_, b)| b["UseCognitoProvidedValues"] == Value::Bool(true))
        .map(|(_, b)| expr(&b["ClientId"]))
        .collect();
    assert_eq!(
        styled,
        [format!("${{{client_id}}}")],
        "the web client's style"
    );

    let prefix_of = |uuid: &str| {
        let stack = format!("arn:aws:cloudformation:us-east-1:123456789012:stack/kiln/{uuid}");
        evaluate(&t, &domain["Domain"], &stack)
    };
    let (one, other) = (
        prefix_of("6d0b8f30-1c2e-11ef-9a4b-0a1b2c3d4e5f"),
        prefix_of("aa77e1c0-1c2f-11ef-8c1d-12ffee004a11"),
    );
    assert_ne!(one, other, "two stacks, two prefixes");
    for prefix in [one, other] {
        let valid = !prefix.is_empty()
            && prefix.len() <= 63
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !prefix.starts_with('-')
            && !prefix.ends_with('-');
        assert!(valid, "not a prefix Cognito takes: {prefix}");
        for word in ["aws", "amazon", "cognito"] {
            assert!(!prefix.contains(word), "Cognito refuses {prefix}");
        }
    }
}

/// Every route of the API runs behind the JWT authorizer but exactly two, which anyone may
/// call: the health check and how to sign in (asked before there is a token). Each route
/// reaches the api function; no SAM event or API adds routes outside these.
#[test]
fn only_the_health_check_and_the_sign_in_settings_are_public() {
    let t = parsed();
    let (authorizer, _) = the_one(&t, "AWS::ApiGatewayV2::Authorizer");
    let (integration, target) = the_one(&t, "AWS::ApiGatewayV2::Integration");
    assert_eq!(expr(&target["IntegrationUri"]), "${ApiFunction.Arn}");
    let mut public = BTreeSet::new();
    let mut guarded = BTreeSet::new();
    for (id, route) in resources(&t, "AWS::ApiGatewayV2::Route") {
        assert_eq!(text_of(&route["ApiId"]), "HttpApi", "{id}");
        assert_eq!(
            expr(&route["Target"]),
            format!("integrations/${{{integration}}}"),
            "{id}"
        );
        let key = text_of(&route["RouteKey"]);
        // A route without an authorization type is open (API Gateway's NONE).
        match route["AuthorizationType"].as_str().unwrap_or("NONE") {
            "NONE" => {
                public.insert(key);
            }
            "JWT" => {
                assert_eq!(text_of(&route["AuthorizerId"]), authorizer, "{id}");
                guarded.insert(key);
            }
            other => panic!("{id}: authorization {other}"),
        }
    }
    assert_eq!(
        public,
        BTreeSet::from([
            "GET /healthz".to_owned(),
            "GET /api/v2/auth/config".to_owned()
        ])
    );
    assert!(guarded.contains("ANY /api/v2/{proxy+}"), "{guarded:?}");
    for kind in ["AWS::Serverless::HttpApi", "AWS::Serverless::Api"] {
        assert!(
            resources(&t, kind).is_empty(),
            "{kind} adds routes of its own"
        );
    }
    for (id, function) in resources(&t, "AWS::Serverless::Function") {
        for (_, event) in function["Events"].as_mapping().into_iter().flatten() {
            assert!(
                !matches!(event["Type"].as_str(), Some("HttpApi" | "Api")),
                "{id}'s API event makes a route (and an API) of its own"
            );
        }
    }
}

/// API Gateway reaches the api function through one integration (the v2.0 events the function
/// reads) and one permission, which lets only this API invoke it.
#[test]
fn only_this_api_may_invoke_the_api_function() {
    let t = parsed();
    let (_, integration) = the_one(&t, "AWS::ApiGatewayV2::Integration");
    assert_eq!(integration["IntegrationType"], "AWS_PROXY");
    assert_eq!(text_of(&integration["PayloadFormatVersion"]), "2.0");
    let permissions: Vec<(String, &Value)> = resources(&t, "AWS::Lambda::Permission")
        .into_iter()
        .filter(|(_, p)| expr(&p["FunctionName"]).starts_with("${ApiFunction"))
        .collect();
    assert_eq!(permissions.len(), 1, "{permissions:?}");
    let permission = permissions[0].1;
    assert_eq!(permission["Action"], "lambda:InvokeFunction");
    assert_eq!(permission["Principal"], "apigateway.amazonaws.com");
    assert_eq!(
        expr(&permission["SourceArn"]),
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*",
        "any route and stage of this API, and no other API"
    );
}

use leptos::prelude::*;
use leptos::web_sys;

use crate::api::auth::{
    add_user, audit_log, create_token, list_tokens, list_users, remove_user, revoke_token,
};
use crate::components::data_table::DataTable;
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::components::session::RequireRole;
use crate::components::text_input::TextInput;
use crate::components::time::LocalTime;
use crate::types::auth::{CreatedToken, Role};

/// Accounts, API tokens and the audit trail; admins only.
#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Users"
            subtitle="Accounts, API tokens for scripts, and who did what."
        />
        <RequireRole role=Role::Admin action="manage users and tokens">
            <AccountsAdmin />
        </RequireRole>
    }
}

fn role_select(value: RwSignal<Role>, testid: &'static str) -> impl IntoView {
    view! {
        <label class="field">
        <span>"Role"</span>
        <select
            data-testid=testid
            on:change=move |event| {
                if let Ok(role) = event_target_value(&event).parse() {
                    value.set(role);
                }
            }
            prop:value=move || value.get().as_str()
        >
            {Role::ALL
                .iter()
                .map(|role| view! { <option value=role.as_str()>{role.as_str()}</option> })
                .collect_view()}
        </select>
        </label>
    }
}

#[component]
fn AccountsAdmin() -> impl IntoView {
    // Bumped after every change to reload the three tables.
    let revision = RwSignal::new(0u32);
    let users = Resource::new(move || revision.get(), |_| list_users());
    let tokens = Resource::new(move || revision.get(), |_| list_tokens());
    let events = Resource::new(move || revision.get(), |_| audit_log(Some(100), None));

    let new_name = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let new_role = RwSignal::new(Role::Viewer);
    let add = Action::new(move |(name, password, role): &(String, String, Role)| {
        let (name, password, role) = (name.clone(), password.clone(), *role);
        async move { add_user(name, password, role).await }
    });
    let remove = Action::new(|name: &String| remove_user(name.clone()));
    let token_name = RwSignal::new(String::new());
    let token_role = RwSignal::new(Role::Viewer);
    let create = Action::new(move |(name, role): &(String, Role)| {
        let (name, role) = (name.clone(), *role);
        async move { create_token(name, role).await }
    });
    let revoke = Action::new(|id: &i64| revoke_token(*id));
    Effect::new(move |_| {
        let changed = add.version().get()
            + remove.version().get()
            + create.version().get()
            + revoke.version().get();
        if changed > 0 {
            revision.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            new_name.set(String::new());
            new_password.set(String::new());
        }
    });

    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            token_name.set(String::new());
        }
    });
    let copied = RwSignal::new(false);

    let add_submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        add.dispatch((
            new_name.get_untracked(),
            new_password.get_untracked(),
            new_role.get_untracked(),
        ));
    };
    let token_submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        create.dispatch((token_name.get_untracked(), token_role.get_untracked()));
    };
    let action_error = move || {
        [
            add.value().get().and_then(Result::err),
            remove.value().get().and_then(Result::err),
            create.value().get().and_then(Result::err),
            revoke.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|error| view! { <p class="error card" role="alert" data-testid="users-error">{error.to_string()}</p> })
    };

    view! {
        {action_error}
        <section class="card stack">
            <h2>"Users"</h2>
            <Loaded resource=users loading="Loading users…" render=move |users| view! {
                <DataTable testid="users-table" headers=&["User", "Role", "Since", ""]>
                    {users.into_iter().map(|user| {
                        let name = user.username.clone();
                        view! {
                            <tr>
                                <td>{user.username.clone()}</td>
                                <td><span class="badge">{user.role.as_str()}</span></td>
                                <td><LocalTime utc=user.created_at.clone() /></td>
                                <td>
                                    <button type="button" class="button small"
                                        on:click=move |_| { remove.dispatch(name.clone()); }>
                                        "Remove"
                                    </button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </DataTable>
            } />
            <form class="inline-form" on:submit=add_submit data-testid="add-user-form">
                <label class="field">
                    <span>"User name"</span>
                    <TextInput kind="text" value=new_name testid="new-username" />
                </label>
                <label class="field">
                    <span>"Password (10+ characters)"</span>
                    <TextInput kind="password" value=new_password testid="new-password" autocomplete="new-password" />
                </label>
                {role_select(new_role, "new-role")}
                <button type="submit" class="button primary" data-testid="add-user">"Add user"</button>
            </form>
        </section>

        <section class="card stack">
            <h2>"API tokens"</h2>
            <p class="muted small">"For scripts: send " <code>"Authorization: Bearer <token>"</code> ". A token is shown once, when it is created."</p>
            {move || create.value().get().and_then(Result::ok).map(|created: CreatedToken| {
                let secret = created.token.clone();
                view! {
                    <div class="reassurance" data-testid="created-token-panel">
                        <p class="success" data-testid="created-token">
                            "New token " <strong>{created.name}</strong> " (" {created.role.as_str()} "): "
                            <code class="secret">{created.token}</code>
                        </p>
                        <p class="small">"Copy it now: it is not shown again, and only its hash is stored."</p>
                        <div class="actions">
                            <button
                                type="button"
                                class="button small"
                                data-testid="copy-token"
                                on:click=move |_| {
                                    copied.set(copy_to_clipboard(&secret));
                                }
                            >
                                {move || if copied.get() { "Copied" } else { "Copy" }}
                            </button>
                            <button
                                type="button"
                                class="button small"
                                data-testid="clear-token"
                                on:click=move |_| {
                                    copied.set(false);
                                    create.value().set(None);
                                }
                            >
                                "Done, hide it"
                            </button>
                        </div>
                    </div>
                }
            })}
            <Loaded resource=tokens render=move |tokens| view! {
                <DataTable testid="tokens-table" headers=&["Id", "Name", "Role", "Created by", "Last used", ""]>
                    {tokens.into_iter().map(|token| {
                        let id = token.id;
                        let revoked = token.revoked_at.is_some();
                        view! {
                            <tr class:revoked=revoked>
                                <td>{token.id}</td>
                                <td>{token.name}</td>
                                <td>{token.role.as_str()}</td>
                                <td>{token.created_by}</td>
                                <td>
                                    {match token.last_used_at {
                                        Some(at) => view! { <LocalTime utc=at /> }.into_any(),
                                        None => "never".into_any(),
                                    }}
                                </td>
                                <td>
                                    {if revoked {
                                        view! { <span class="badge">"revoked"</span> }.into_any()
                                    } else {
                                        view! {
                                            <button type="button" class="button small"
                                                on:click=move |_| { revoke.dispatch(id); }>
                                                "Revoke"
                                            </button>
                                        }.into_any()
                                    }}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </DataTable>
            } />
            <form class="inline-form" on:submit=token_submit data-testid="create-token-form">
                <label class="field">
                    <span>"Token name"</span>
                    <TextInput kind="text" value=token_name testid="token-name" placeholder="e.g. pacs-sync" />
                </label>
                {role_select(token_role, "token-role")}
                <button type="submit" class="button primary" data-testid="create-token">"Create token"</button>
            </form>
        </section>

        <section class="card">
            <h2>"Audit trail"</h2>
            <Loaded resource=events render=move |events| view! {
                <DataTable testid="audit-table" headers=&["When", "Who", "Action", "Target", "Outcome", "Client", "Detail"]>
                    {events.into_iter().map(|event| view! {
                        <tr>
                            <td><LocalTime utc=event.at /></td>
                            <td>{event.actor}</td>
                            <td>
                                {event.action}
                                {(event.count > 1).then(|| format!(" \u{d7}{}", event.count))}
                            </td>
                            <td>{event.target.unwrap_or_default()}</td>
                            <td><span class=format!("badge {}", event.outcome)>{event.outcome.as_str()}</span></td>
                            <td>{event.client.unwrap_or_default()}</td>
                            <td class="small">{event.detail.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </DataTable>
            } />
        </section>
    }
}

/// Puts `text` on the clipboard; whether the browser accepted the request (it writes later).
fn copy_to_clipboard(text: &str) -> bool {
    web_sys::window()
        .map(|window| {
            // The promise settles on its own; the button says what was asked.
            let _ = window.navigator().clipboard().write_text(text);
        })
        .is_some()
}

"""Builders for service objects: tickets, knowledge base and the community.

Count-like community fields are strings because the v3.1 swagger types them so; the
knowledge-article keys are mixed-case (docs/api.md §7).
Comments belong to post ``k mod nPosts`` so a post's COMMENT_COUNT is exact.
"""

from __future__ import annotations

from typing import Any

from .generator import Ctx, Gen, builder, hashed_index
from .people import person
from .vocab import KB_TOPICS, SENTENCES, WORDS

KB_CATEGORIES = ("Getting Started", "Billing", "Integrations", "Troubleshooting",
                 "Administration", "Mobile", "Security", "API")  # fmt: skip
TICKET_SUBJECTS = (
    "Cannot log in", "Invoice shows wrong VAT", "Sync with Outlook fails",
    "How do I export contacts?", "API returns 429", "Umlaut ä/ö/ü broken in PDF",
    "Request: dark mode", "Calendar events duplicated",
)  # fmt: skip
FOLDER_KINDS = ("FAQ", "Guides", "Reference", "Release notes", "Internal")
FORUM_CATEGORIES = ("Product", "Community", "Announcements", "Ideas")


def _ticket_body(g: Gen) -> str:
    r = g.r
    lines = "".join(f"<p>{s}</p>" for s in r.sample_of(SENTENCES, r.between(1, 3)))
    signature = f"<p>Thanks,<br>{person(r).first}</p>"
    return f'<div class="ticket-comment"><p>Hi team,</p>{lines}{signature}</div>'


@builder("Ticket")
def _ticket(g: Gen) -> dict[str, Any]:
    r = g.r
    status = r.pick(("New", "Open", "Open", "Pending", "On Hold", "Solved", "Closed", "Closed"))
    solved = g.between(g.created, g.updated) if status in ("Solved", "Closed") else None
    closed = g.between(solved, g.updated) if status == "Closed" and solved else None
    return {
        "TICKET_NUMBER": str(1001 + g.i),
        "TICKET_TYPE": r.pick(("Question", "Problem", "Incident", "Feature Request")),
        "SUBJECT": r.pick(TICKET_SUBJECTS),
        "TICKET_STATUS": status,
        "PRIORITY": r.pick(("Low", "Medium", "Medium", "High", "Urgent")),
        "TO_EMAIL_ADDRESS": "support@acme-emulated.example",
        "SOURCE": r.pick(("Email", "Web Form", "Phone", "Portal", "Chat")),
        "CONTACT_ID": g.ref("Contacts", 0.9),
        "ORGANISATION_ID": g.ref("Organisations", 0.6),
        "BRAND_ID": r.maybe(0.3, 5000 + r.between(1, 2)),
        "CREATED_USER_ID": g.user(),
        "OWNER_USER_ID": g.user(),
        "DATE_SOLVED_UTC": g.ts(solved),
        "DATE_CLOSED_UTC": g.ts(closed),
        "TicketCommentBodyHtml": _ticket_body(g),
    }  # fmt: skip


def folder_category(ctx: Ctx, folder_index: int) -> int | None:
    return hashed_index(ctx, "KnowledgeArticleCategory", "folder-category", folder_index)


@builder("KnowledgeArticleCategory")
def _kb_category(g: Gen) -> dict[str, Any]:
    name = KB_CATEGORIES[g.i % len(KB_CATEGORIES)]
    if g.i >= len(KB_CATEGORIES):
        name += f" {g.i // len(KB_CATEGORIES) + 1}"
    return {
        "CATEGORY_NAME": name,
        "DESCRIPTION": g.r.maybe(0.7, f"Articles about {name.lower()}."),
        "CREATED_USER_ID": g.user(),
    }


@builder("KnowledgeArticleFolder")
def _kb_folder(g: Gen) -> dict[str, Any]:
    category = g.id_of("KnowledgeArticleCategory", folder_category(g.ctx, g.i))
    return {
        "FOLDER_NAME": f"{g.r.pick(FOLDER_KINDS)} {g.i + 1}",
        "CATEGORY_ID": None if category is None else str(category),  # a string in the swagger
        "VISIBILITY": g.r.pick(("Public", "Public", "Internal")),
        "ORDER_ARTICLES": g.r.pick(("Alphabetical", "Newest", "Manual")),
        "CREATED_USER_ID": g.user(),
    }  # fmt: skip


@builder("KnowledgeArticle")
def _kb_article(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    folder = g.ref_index("KnowledgeArticleFolder")
    category = folder_category(ctx, folder) if folder is not None else None
    status = r.pick(("Published", "Published", "Published", "Draft", "Archived"))
    published = g.between(g.created, g.updated) if status != "Draft" else None
    archived = g.between(published, g.updated) if status == "Archived" and published else None
    topic = KB_TOPICS[g.i % len(KB_TOPICS)]
    title = topic if g.i < len(KB_TOPICS) else f"{topic} ({g.i // len(KB_TOPICS) + 1})"
    steps = "".join(f"<li>{s}</li>" for s in r.sample_of(SENTENCES, r.between(2, 5)))
    return {
        "ARTICLE_NO": g.i + 1,
        "CATEGORY_ID": g.id_of("KnowledgeArticleCategory", category),
        "FOLDER_ID": g.id_of("KnowledgeArticleFolder", folder),
        "OWNER_USER_ID": g.user(),
        "CREATED_USER_ID": g.user(),
        "FIRST_PUBLISHED_DATE_UTC": g.ts(published),
        "LAST_PUBLISHED_DATE_UTC": g.ts(g.between(published, g.updated)) if published else None,
        "ARCHIVED_DATE_UTC": g.ts(archived),
        "PROMOTED": r.chance(0.1),
        "UPVOTE_COUNT": r.between(0, 120),
        "DOWNVOTE_COUNT": r.between(0, 15),
        "URL_SLUG": title.lower().replace(" ", "-").replace("(", "").replace(")", ""),
        "Title": title,
        "Body": f"<h2>{title}</h2><ol>{steps}</ol>",
        "Status": status,
        "Language": r.pick(("en-US", "en-US", "en-US", "de-DE", "fr-FR")),
        "ArticleVersion": str(r.between(1, 6)),
        "ExternalLinkCount": str(r.between(0, 4)),
    }  # fmt: skip


@builder("ForumCategories")
def _forum_category(g: Gen) -> dict[str, Any]:
    name = FORUM_CATEGORIES[g.i % len(FORUM_CATEGORIES)]
    return {"CATEGORY_NAME": name if g.i < len(FORUM_CATEGORIES) else f"{name} {g.i + 1}"}


@builder("CommunityForums")
def _forum(g: Gen) -> dict[str, Any]:
    r = g.r
    topic = r.pick(
        (
            "General discussion",
            "Integrations",
            "Mobile app",
            "Feature ideas",
            "Tips & tricks",
            "Announcements",
            "Reporting",
        )
    )
    return {
        "FORUM_NAME": f"{topic}" if g.i < 7 else f"{topic} #{g.i + 1}",
        "DESCRIPTION": r.maybe(0.8, f"Talk about {topic.lower()} with other customers."),
        "FORUM_CATEGORY_ID": g.ref("ForumCategories"),
        "FORUM_TYPE": r.pick(("Discussion", "Q&A", "Ideas")),
        "FORUM_ORDER": str(g.i + 1),
        "VISIBILITY": r.pick(("Public", "Public", "Private")),
        "CREATED_USER_ID": g.user(),
    }  # fmt: skip


def forum_of_post(ctx: Ctx, post_index: int) -> int | None:
    return hashed_index(ctx, "CommunityForums", "post-forum", post_index)


def _comment_count(ctx: Ctx, post_index: int) -> int:
    n_comments, n_posts = ctx.n("CommunityComments"), ctx.n("CommunityPosts")
    if not n_posts:
        return 0
    return n_comments // n_posts + (1 if post_index < n_comments % n_posts else 0)


@builder("CommunityPosts")
def _post(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    forum = forum_of_post(ctx, g.i)
    edited = r.chance(0.2)
    status = r.pick(("Open", "Open", "Answered", "Closed"))
    return {
        "FORUM_ID": ctx.id("CommunityForums", forum) if forum is not None else None,
        "POST_NAME": r.pick(("How do I", "Is it possible to", "Best way to", "Problem:")) + " "
        + " ".join(r.sample_of(WORDS, 3)) + "?",
        "MESSAGE": "".join(f"<p>{s}</p>" for s in r.sample_of(SENTENCES, r.between(1, 3))),
        "STATUS": status,
        "TICKET_ID": str(g.ref("Ticket")) if r.chance(0.1) else None,
        "CLOSED": status == "Closed",
        "FEATURED": r.chance(0.05),
        "PINNED": r.chance(0.03),
        "PENDING": r.chance(0.05),
        "SPAM": r.chance(0.01),
        "COMMENT_COUNT": str(_comment_count(ctx, g.i)),
        "FOLLOWER_COUNT": str(r.between(0, 30)),
        "VIEW_COUNT": str(r.between(5, 3000)),
        "UPVOTE_COUNT": str(r.between(0, 50)),
        "DOWNVOTE_COUNT": str(r.between(0, 5)),
        "CREATED_CONTACT_ID": g.ref("Contacts"),
        "EDITED_CONTACT_ID": g.ref("Contacts") if edited else None,
        "DATE_EDITED_UTC": g.ts(g.between(g.created, g.updated)) if edited else None,
    }  # fmt: skip


@builder("CommunityComments")
def _comment(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    n_posts = ctx.n("CommunityPosts")
    post = g.i % n_posts if n_posts else None
    forum = forum_of_post(ctx, post) if post is not None else None
    edited = r.chance(0.1)
    return {
        "POST_ID": ctx.id("CommunityPosts", post) if post is not None else None,
        "FORUM_ID": ctx.id("CommunityForums", forum) if forum is not None else None,
        "BODY": f"<p>{r.pick(SENTENCES)}</p>",
        "ANSWER": r.chance(0.1),
        "OFFICIAL": r.chance(0.05),
        "PENDING": r.chance(0.03),
        "SPAM": r.chance(0.01),
        "UPVOTE_COUNT": str(r.between(0, 20)),
        "DOWNVOTE_COUNT": str(r.between(0, 3)),
        "CREATED_CONTACT_ID": g.ref("Contacts"),
        "EDITED_CONTACT_ID": g.ref("Contacts") if edited else None,
        "DATE_EDITED_UTC": g.ts(g.between(g.created, g.updated)) if edited else None,
    }

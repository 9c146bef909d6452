"""The report's questions: the single place that says what is asked, in what order, and when.

Each question is a Rasa form slot of the same name; its text and buttons are the
``utter_ask_<slot>`` response in domain.yml (a test keeps the buttons and the
options here in step). Every question can be skipped ("I'd rather not say").
Policy: Karin 4.1-4.5 (what counts as harassment and why someone was targeted),
Karbon 3.3.3 (consent to share).
"""
from __future__ import annotations

from bot.questionnaire import NO, NOT_SURE, SKIPPED, YES, Answers, Option, Question, Questionnaire, yesno

__all__ = ["SKIPPED", "Answers", "Option", "Question", "QUESTIONS", "REPORT", "BY_SLOT", "SLOTS"]


def is_anonymous(answers: Answers) -> bool:
    return answers.get("reporter_role") == "anonymous"


def has_contact(answers: Answers) -> bool:
    contact = answers.get("contact")
    return isinstance(contact, dict) and bool(contact.get("phone") or contact.get("email"))


def _not_anonymous(answers: Answers) -> bool:
    return not is_anonymous(answers)


QUESTIONS: tuple[Question, ...] = (
    Question(
        "reporter_role",
        "choice",
        "Who is reporting",
        (
            Option("victim", "It's happening to me", ("me", "myself", "happening to me", "victim", "to me")),
            Option("witness", "I saw it happen", ("witness*", "saw", "seen", "watched", "i saw")),
            Option(
                "on_behalf",
                "I'm reporting for someone else",
                ("someone else", "somebody else", "on behalf", "for my", "for them", "for him", "for her", "for a friend"),
            ),
            Option(
                "anonymous",
                "I want to stay anonymous",
                ("anonymous*", "anon", "anonymously", "no name", "without my name", "not give my details"),
            ),
        ),
    ),
    Question("description", "text", "What happened"),
    Question(
        "incident_type",
        "multi",
        "Kind of incident",
        (
            Option(
                "racist",
                "Racist behaviour or language",
                ("racis*", "race", "racial*", "colour", "skin", "paki*", "foreigner*", "immigrant*", "go back to your country"),
            ),
            Option(
                "hate_other",
                "Other hate crime",
                ("hate", "homophob*", "transphob*", "islamophob*", "antisemit*", "disablis*", "ableis*", "bigot*"),
            ),
            Option(
                "violence",
                "Violence or threats of violence",
                ("violen*", "hit", "hitting", "punch*", "kick*", "attack*", "assault*", "threat*", "hurt", "push*",
                 "knife", "weapon*", "beat*", "kill", "spat", "spit*"),
            ),
            Option(
                "abuse",
                "Abusive or insulting words",
                ("abus*", "insult*", "called me", "names", "swear*", "shout*", "slur*", "verbal*", "name calling"),
            ),
            Option(
                "graffiti",
                "Writing or graffiti",
                ("graffiti", "spray*", "wrote", "written", "writing", "painted", "scrawl*", "note*", "letter*", "leaflet*"),
            ),
            Option(
                "online",
                "Online or social media abuse",
                ("online", "internet", "facebook", "whatsapp", "tiktok", "instagram", "twitter", "snapchat",
                 "social media", "post*", "comment*"),
            ),
            Option(
                "disturbance",
                "Behaviour that disturbs my peace",
                ("noise", "noisy", "loud", "bang*", "music", "intimidat*", "star*", "follow*", "disturb*", "peace",
                 "nuisance", "egg*", "rubbish", "harass*"),
            ),
            Option("other", "Something else", ("other", "something else")),
        ),
    ),
    Question(
        "motivation",
        "multi",
        "Why they think they were targeted",
        (
            Option(
                "race",
                "Race, colour or nationality",
                ("race", "racis*", "colour", "skin", "nationalit*", "ethnic*", "country", "foreign*", "immigrant*",
                 "where i'm from", "where im from", "accent", "black", "asian", "polish", "romanian"),
            ),
            Option(
                "religion",
                "Religion or belief",
                ("relig*", "faith", "belief", "muslim*", "islam*", "christian*", "jew*", "sikh*", "hindu*", "hijab",
                 "headscarf", "turban", "mosque", "church", "temple", "gurdwara"),
            ),
            Option(
                "sex_gender",
                "Sex or gender identity",
                ("gender", "sex", "woman", "women", "female", "girl", "trans", "transgender", "non binary", "nonbinary"),
            ),
            Option(
                "disability",
                "Disability",
                ("disab*", "wheelchair", "blind", "deaf", "autis*", "learning difficult*", "crutches"),
            ),
            Option(
                "sexual_orientation",
                "Sexual orientation",
                ("gay", "lesbian", "bisexual", "homophob*", "queer", "sexual orientation", "sexuality", "lgbt*"),
            ),
            Option("illness", "Illness", ("ill", "illness", "mental health", "hiv", "cancer", "sick*", "condition")),
            Option("age", "Age", ("age", "old", "elderly", "young", "pensioner*", "too old", "teenager*")),
            Option("other", "Another reason", ("other", "something else", "another reason", "different reason")),
            Option("none_known", "No reason I know of", ("none", "no reason", "don't know why", "dont know why", "nothing")),
        ),
        on_deny="none_known",
        on_dont_know="none_known",
    ),
    Question(
        "incident_when",
        "when",
        "When",
        (
            Option("today", "Today", ("today", "this morning", "this afternoon", "this evening", "tonight", "just now", "earlier today")),
            Option("yesterday", "Yesterday", ("yesterday", "last night")),
            Option("this_week", "In the last week", ("this week", "few days ago", "couple of days ago", "last week")),
            Option("this_month", "In the last month", ("this month", "few weeks ago", "couple of weeks ago", "last month")),
            Option("longer", "Longer ago", ("months ago", "ages", "long time", "years", "for years", "a while ago", "longer")),
        ),
    ),
    Question(
        "frequency",
        "choice",
        "How often",
        (
            Option("once", "Just once", ("once", "one time", "first time", "single", "just the once")),
            Option(
                "repeated",
                "More than once",
                ("again", "many times", "more than once", "several", "repeat*", "every day", "daily", "all the time",
                 "always", "constantly", "regular*", "keeps", "often", "twice", "every week", "weekly", "times"),
            ),
        ),
    ),
    Question(
        "ongoing",
        "choice",
        "Still going on",
        (
            Option("yes", "Yes, it's still happening", ("still", "ongoing", "yes", "continu*", "carrying on", "keeps")),
            Option("no", "No, it has stopped", ("stopped", "no", "over", "finished", "ended", "not any more", "not anymore")),
            NOT_SURE,
        ),
        on_affirm="yes",
        on_deny="no",
        on_dont_know="not_sure",
    ),
    Question(
        "location",
        "choice",
        "Where",
        (
            Option(
                "home",
                "At or near the home",
                ("home", "house", "flat", "door", "front door", "garden", "outside my", "balcony", "window*", "doorstep"),
            ),
            Option(
                "estate",
                "Elsewhere on the estate",
                ("estate", "car park", "stairwell", "stairs", "lift", "communal", "bin store", "park", "playground",
                 "street", "road", "landing", "corridor", "block"),
            ),
            Option(
                "online",
                "Online",
                ("online", "internet", "facebook", "whatsapp", "tiktok", "instagram", "twitter", "snapchat", "social media"),
            ),
            Option("other", "Somewhere else", ("work", "school", "bus", "town", "elsewhere", "somewhere else", "other", "shop*")),
        ),
    ),
    Question("address", "text", "Address or block", ask_if=_not_anonymous),
    Question(
        "perpetrator_known",
        "choice",
        "Do they know who it is",
        (
            Option("known", "I know who it is", ("know who", "know them", "know him", "know her", "neighbour*", "next door", "upstairs", "downstairs")),
            Option("unknown", "I don't know who it is", ("don't know", "dont know", "no idea", "stranger*", "unknown", "not sure who")),
        ),
        on_affirm="known",
        on_deny="unknown",
        on_dont_know="unknown",
    ),
    Question(
        "perpetrator_status",
        "choice",
        "Who the person is",
        (
            Option("our_tenant", "One of your tenants", ("your tenant*", "tenant of yours", "same landlord", "one of yours", "your tenants")),
            Option("other_landlord", "Another landlord's tenant", ("another landlord", "other landlord", "private*", "council", "owner", "owns")),
            Option("not_resident", "Not a resident", ("not a resident", "doesn't live", "doesnt live", "don't live", "visitor*", "from outside", "passing")),
            Option("dont_know", "I don't know", ("don't know", "dont know", "not sure", "no idea", "unsure")),
        ),
        ask_if=lambda a: a.get("perpetrator_known") == "known",
        on_affirm="our_tenant",
        on_dont_know="dont_know",
    ),
    Question("perpetrator_description", "text", "Description of the person"),
    Question(
        "witnesses",
        "choice",
        "Witnesses",
        (YES, NO, NOT_SURE),
        on_affirm="yes",
        on_deny="no",
        on_dont_know="not_sure",
    ),
    Question(
        "evidence",
        "multi",
        "Evidence held",
        (
            Option("photos", "Photos", ("photo*", "picture*", "pic", "pics", "image*")),
            Option("recordings", "Video or audio recordings", ("video*", "record*", "audio", "cctv", "doorbell", "ring camera", "footage")),
            Option("messages", "Messages, posts or letters", ("message*", "text*", "post*", "letter*", "note*", "email*", "screenshot*", "voicemail*")),
            Option("other", "Something else", ("other", "something else")),
            Option("none", "None", ("none", "nothing", "no evidence")),
        ),
        on_deny="none",
    ),
    yesno("graffiti", "Graffiti to remove", ask_if=lambda a: a.get("location") != "online"),
    Question("graffiti_location", "text", "Where the graffiti is", ask_if=lambda a: a.get("graffiti") == "yes"),
    yesno("home_insecure", "Home left insecure"),
    Question(
        "vulnerable",
        "multi",
        "Children or vulnerable adults affected",
        (
            Option("children", "Children", ("child*", "kid*", "son", "daughter", "baby", "babies", "toddler*", "teen*", "young people")),
            Option("vulnerable_adult", "A vulnerable adult", ("vulnerable", "elderly", "disabled", "carer", "grandparent*", "older")),
            Option("none", "No", ("none", "no one", "nobody", "no")),
        ),
        on_deny="none",
    ),
    Question("contact_name", "text", "Name", ask_if=_not_anonymous),
    Question("contact", "contact", "Phone or email", ask_if=_not_anonymous),
    yesno("consent_police", "May tell the police"),
    yesno("consent_agencies", "May share with other agencies"),
)

REPORT = Questionnaire("report", QUESTIONS)
BY_SLOT: dict[str, Question] = REPORT.by_slot
SLOTS: tuple[str, ...] = REPORT.slots

required_slots = REPORT.required_slots
next_slot = REPORT.next_slot
previous_slot = REPORT.previous_slot
answered_slots = REPORT.answered_slots
relevant_answers = REPORT.relevant_answers

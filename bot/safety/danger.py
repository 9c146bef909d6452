"""Danger now, recognised from the words themselves, not only from the language model.

A curated lexicon of patterns (English first; one list per language as languages
arrive), tuned for recall: a false alarm costs one sentence of 999 advice, a miss can
cost a life. It looks for the present: the person who harms them at the door or inside,
a weapon with them now, a break-in, a fire being set, someone being hurt (the person,
their child, a neighbour they can see or hear), a threat to kill with the person there
or on the way, hiding or being trapped, or a plain cry for help. Past events ("he
threatened me with a knife last week"), what-ifs ("what do I do if he comes back") and
everyday harassment ("they shout at me every day") are reports, not emergencies, and
are left to the report, unless the message also says it is happening now.

How a message is read:
1. ``_prepare``: the shared normalisation (lower case, no punctuation), then without
   apostrophes ("he's" and "hes" read alike), text-speak spelt out ("pls", "rn",
   "gonna") and dropped g's put back ("kickin" is "kicking").
2. ``PATTERNS``: named patterns, each a family of ways of saying one kind of danger
   (the names go into the audit trail). A match straight after "not" or "was" is void
   ("I'm not in danger", "they were carrying bats"); "no" is not a negation here ("no,
   he's outside" answers "are you safe?").
3. ``_is_now``: the time of the message. "now", "right now", "tonight", "still here"
   keep it; otherwise a habit ("every night"), a past time, a what-if, a report about it,
   or "I'm safe / he's gone" makes it a report. Someone said to be there in the present
   tense ("they attacked me on sunday and they're outside") outweighs all but a habit.

The Rasa server applies it inside the language-model pipeline
(bot/rasa_ext/danger_nlu.py), so it needs neither the action server nor a database.
It runs on every message: the patterns are compiled once, word lists are compiled as
tries (one test per first letter), and every gap is a bounded run of words, never
``.*``, so a 5,000-character message takes a few milliseconds.
"""
from __future__ import annotations

import re

from bot.text import normalise


def _words(words: str) -> str:
    """A regex for any of the space-separated words ("_" stands for a space inside a
    phrase), built as a trie: "hes here hell" becomes "he(?:ll|re|s)", so a position that
    matches none of them costs one test per first letter, not one per word."""
    trie: dict = {}
    for word in words.split():
        node = trie
        for char in word.replace("_", " "):
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(node[char]) for char in sorted(node) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return body
        return f"(?:{body})?" if len(body) > 1 else body + "?"

    return "(?:" + build(trie) + ")"


# --- what people type, spelt out ------------------------------------------------------

_TEXTSPEAK = {
    "pls": "please", "plz": "please", "plez": "please", "plse": "please", "pleas": "please", "pleeease": "please",
    "rn": "right now", "atm": "at the moment", "asap": "now", "nw": "now",
    "tonite": "tonight", "2nite": "tonight", "2night": "tonight", "b4": "before",
    "gonna": "going to", "gunna": "going to", "gna": "going to", "tryna": "trying to", "wanna": "want to",
    "u": "you", "ur": "your", "r": "are", "n": "and", "2": "to", "bk": "back", "wiv": "with", "thru": "through",
    "ppl": "people", "sum1": "someone", "some1": "someone", "any1": "anyone", "no1": "no one",
    "da": "the", "dey": "they", "dem": "them", "hez": "hes", "ere": "here", "theyr": "theyre", "thier": "their",
    "brake": "break", "braking": "breaking", "threatning": "threatening", "threating": "threatening",
    "theatening": "threatening", "outsid": "outside", "outide": "outside", "oustide": "outside", "outsde": "outside",
    "nife": "knife", "knif": "knife", "kinfe": "knife", "knifes": "knives", "machette": "machete",
    "polic": "police", "polise": "police", "pollice": "police", "ambulence": "ambulance",
    "neighbor": "neighbour", "neighbors": "neighbours", "nieghbour": "neighbour",
}
# "kickin", "tryin", "hurtin": these verbs with the g dropped
_DROPPED_G = [
    "kick", "bang", "smash", "break", "try", "hurt", "hitt", "punch", "com", "go", "follow", "chas", "shout", "scream",
    "threaten", "attack", "burn", "throw", "hammer", "knock", "wait", "kill", "stabb", "fight", "beat", "batter",
    "chok", "strangl", "dragg", "hold", "wav", "point", "pour", "sett", "climb", "gett", "bash", "pound", "lobb",
    "chuck", "hid", "stand", "sitt", "lurk", "smok", "forc", "fir", "lock", "surround", "corner", "ripp",
]
_TEXTSPEAK.update({stem + "in": stem + "ing" for stem in _DROPPED_G})


def _prepare(text: str) -> str:
    words = normalise(text).replace("'", "").split()
    return " ".join(_TEXTSPEAK.get(word, word) for word in words)


# --- building blocks (on prepared text: lower case, no apostrophes) ---------------------

_W = r"(?:\w+ )"  # one more word

# Who: someone who may harm, matched from the noun on ("[the] lads from upstairs are", "[my] ex is")
_WHO = _words("man men woman women guy guys bloke blokes lad lads boys youths gang group mob people them him her "
              "someone somebody stranger strangers neighbour neighbours ex partner husband wife boyfriend girlfriend "
              "dad stepdad father brother son thugs lot intruder intruders")
_SUBJECT = rf"(?:{_words('he she they')}|{_WHO}(?: (?:from|of|at|in|across|opposite) {_W}{{0,2}}?\w+)?)"
# ... said to be there now: "hes", "he is", "theyre", "my ex is", "and is"; "there"/"their"
# typed for "theyre" only where it opens the message or a clause
_SUBJECT_IS = (rf"(?:{_words('hes shes theyre someones somebodys its_him its_her its_them')}|{_SUBJECT} (?:is|are|s)|"
               r"(?=the(?:re|ir) )(?:^|(?<=and )|(?<=now )|(?<=help )|(?<=please ))the(?:re|ir)|and (?:is|are))")
# ... or found there: "theres a man", "there are 5 or 6 of them", "i can see a gang"
_THERE_IS = (rf"{_words('theres there_is there_are there_s i_can_see i_can_hear')} "
             rf"(?:(?!often|always|usually|sometimes|no|not|never)\w+ ){{0,4}}?{_WHO}")
_SOMEONE_IS = rf"(?:{_SUBJECT_IS}|{_THERE_IS})"

# Where: "outside", "at my door", "on the landing", "in my loft" (but not "in my class")
_PLACE_NOUN = _words("door doors window windows gate doorstep house flat home garden hall hallway building room kitchen "
                     "bedroom landing balcony stairwell stairs lift corridor entrance car_park block letterbox bathroom "
                     "lounge living_room front back loft attic shed garage cupboard toilet porch yard drive driveway sofa "
                     "settee bed roof")
_NOT_A_PLACE = _words("class year form family head life phone contacts group chat dream dreams thoughts way face business "
                      "opinion area book statement building block street road estate close town")
_PLACE = (rf"(?:{_words('outside out_there inside here downstairs upstairs round_the_back out_the_front out_the_back')}|"
          r"in the (?:next|other) room|"
          rf"(?:at|in|on|by|outside|under|up|through) (?:(?:my|ma|our) (?!{_NOT_A_PLACE}\b)|the |me ){_W}{{0,3}}?{_PLACE_NOUN}|"
          rf"in (?:my|our) (?!{_NOT_A_PLACE}\b)\w+)")
# ... with what comes between "he is" and the place: "stood", "still", "back", "waiting for me",
# then what he is doing: "going mental", "shouting abuse", "in balaclavas", "with his mates"
_STANDING = _words("still now right_now just again back all stood standing sat sitting parked waiting lurking hanging_about "
                   "hanging_around hiding here out waiting_for_me waiting_for_us looking_for_me looking_for_us")
_DOING = (r"(?:(?!living|working|staying|visiting|playing|moving|studying|parking|smoking)\w+ing(?: (?!the\b|a\b|my\b)\w+)?|"
          r"(?:in|with) (?:a |an |his |her |their )?\w+)")
_THERE = rf"(?:{_STANDING} ){{0,3}}(?:{_DOING} )?{_PLACE}"

# With what
_WEAPON = _words("knife knives blade blades machete machetes sword swords gun guns shotgun pistol firearm axe hammer "
                 "baseball_bat baseball_bats bat bats crowbar iron_bar metal_bar screwdriver acid petrol bottle bottles "
                 "brick bricks stick sticks pole poles chain chains weapon weapons")
_A = r"(?:a |an |his |her |their )?(?:\w+ )?"  # "a", "his", "a big", "his kitchen"
_WIELDING = _words("holding waving carrying pointing brandishing swinging aiming pulled pulling pulled_out")

# Whom: "me", "my son", "the lady next door", "an old man", "her wheelchair"
_KIN = _words("son sons daughter daughters kid kids child children baby babies boy girl mum mom mother dad father "
              "brother sister wife husband partner boyfriend girlfriend friend friends mate neighbour nan gran grandad "
              "grandma carer family dog cat wheelchair scooter hijab headscarf turban hair")
_VICTIM = (rf"(?:{_words('me us him her them someone somebody people each_other')}|"
           rf"(?:my|his|her|our|their) (?:{_words('little baby eldest youngest older younger elderly disabled old')} |\w+s )?{_KIN}|"
           rf"(?:the|a|an|some) (?:{_words('old older elderly young little')} )?"
           rf"{_words('man woman lady girl boy kid kids lad guy bloke child children baby neighbour family person dog cat')})")
_PROPERTY = _words("door doors window windows glass lock place flat house car things wall walls")
_THEIR = r"(?:my|the|our|his|her|their|every|all the|all my|all our)"  # whose door
# not about being hurt now: "chasing me for rent", "attacking me on facebook"
_NOT_PHYSICAL = r"(?! (?:for|up|about|online|on (?:facebook|social|whatsapp|twitter|instagram|tiktok|snapchat)))"

# Doing what: now ("hitting"), done ("hes stabbed"), to come ("going to kill")
_HURTING = (rf"(?:{_words('hitting punching kicking hurting attacking beating battering strangling choking throttling')}|"
            rf"{_words('stabbing slashing dragging surrounding cornering chasing stamping_on slapping grabbing pinning')}|"
            rf"{_words('smothering biting shoving pushing jumping mugging robbing shooting shooting_at glassing bottling')}|"
            rf"{_words('knifing headbutting pulling yanking tipping spitting_on')}|"
            r"setting (?:it|them|(?:the|their|his|her|a) dogs?) on)")
_VIOLENT = (rf"(?:{_words('hitting punching kicking smashing breaking attacking stabbing slashing beating battering')}|"
            rf"{_words('strangling choking burning torching throwing chucking lobbing shooting hammering bashing booting')}|"
            rf"{_words('ramming chasing dragging grabbing fighting rioting wrecking trashing destroying ripping glassing')})")
_BREAKING = (rf"(?:{_words('breaking kicking smashing forcing bashing punching booting hammering ripping pulling tearing')}|"
             rf"{_words('prising wrecking trashing jemmying hitting banging thumping battering ramming rocking shaking')})")
_HURT = _words("attacked beaten beaten_up beat_up battered hit hurt stabbed slashed strangled choked chased followed "
               "threatened kicked punched jumped mugged shot shot_at dragged grabbed assaulted knocked_out glassed bottled "
               "knifed shanked headbutted done_over kicked_in smashed_in caved_in stamped_on")
_DONE_TO = _words("hurt hit stabbed punched attacked beaten battered slapped strangled taken snatched grabbed")
# the present perfect: "hes kicked the door in", "theyve stabbed him", "just smashed"
_HAS = _words("has have ve hes shes theyve ive weve someones somebodys just has_just have_just")
_WILL = _words("hell shell theyll will going_to about_to coming_to here_to trying_to threatening_to way_to wants_to")
_HARM = (r"(?:(?:come |come and |come round and |come over and )?"
         rf"(?:{_words('kill murder stab shoot hurt burn batter beat beat_up attack torch do_in do_over sort_out sort')}|"
         rf"{_words('smash hit punch kick strangle choke drag grab push throw rape slit slash cut finish jump rush')}|"
         rf"{_words('glass bottle shank knife mug rob')}|"
         # "theyll get me", not "theyll get me evicted"
         r"get(?= \w+\b(?! \w\w+ed\b| (?:taken|thrown|out|in trouble|into)\b))))")
_THROWING = _words("throwing chucking lobbing hurling firing launching pelting")
_MISSILE = _words("brick bricks stone stones rock rocks things bottle bottles glass something stuff firework fireworks "
                  "paving_slab paving_slabs acid them it")
_JUST_DONE = _words("smashed threw thrown broke broken kicked lit chucked put pushed poured")
_AT_THE_DOOR = _words("banging knocking hammering kicking pounding booting punching screaming shouting")
_WITNESSED = _words("beat beating attack attacking hit hitting stab stabbing kick kicking fight fighting hurt hurting "
                    "batter battering screaming")
_ONLY_HELP = _words("is there please someone somebody anyone anybody help me us now quick quickly hurry i we need oh god "
                    "omg send im so scared him her my mum son daughter kids urgent urgently")
_AFTER_HELP = _words("please someone somebody me us now quick quickly hurry im so scared anyone oh god needed urgently urgent")

PATTERNS: dict[str, re.Pattern] = {
    name: re.compile(pattern)
    for name, pattern in {
        # --- someone there now ---------------------------------------------------------
        # "he's outside my door", "theyre in the stairwell", "theres men in balaclavas outside",
        # "hes going mental outside", "the mob is back", "someone in my flat"
        "perpetrator_here": rf"\b(?:{_SUBJECT_IS} (?:(?:\w+ )?back\b(?! (?:to|at|from|in|home|on|with me)\b)|{_THERE}\b)"
                            rf"|{_THERE_IS} {_THERE}\b"
                            # "the man who attacked me is outside"
                            rf"|\bwho (?:\w+ ){{1,5}}?(?:is|are) {_THERE}\b)"
                            r"|\b(?:someone|somebody|a man|men|a stranger|strangers|intruders?) (?:in|inside) (?:my|our) "
                            rf"{_words('flat house home room bedroom kitchen hall hallway garden loft bathroom')}\b",
        # "he just turned up", "he's come back with his mates", "he's let himself in", "won't go away"
        "turned_up": r"\b(?:just (?:turned|showed) up|(?:hes|shes|theyve|theyre|has|have) (?:just )?(?:come|came) (?:back|round|over)"
                     r"|let (?:himself|herself|themselves) in|(?:turned|showed) up (?:at|outside) (?:my|the|our))\b"
                     r"|\b(?:wont|will not|refusing to|refuses to) (?:leave|go away|go)\b(?! me alone| us alone| it)",
        # "they're coming up the stairs", "he's on his way over"
        "coming_now": rf"\b{_SUBJECT_IS} (?:\w+ )?coming {_words('up down in into through round over back for to_get here after at')}\b"
                      r"|\bon (?:his|her|their) way (?:over|round|here|now|to)\b|\bon (?:his|her|their|the) way$"
                      r"|\bcoming (?:up|in|round|over|back|for)\b(?: \w+){0,6} (?:now|right now)\b",
        # "they're kicking off outside my flat", "he's going mental"
        "kicking_off": rf"\b{_SOMEONE_IS} {_W}{{0,4}}?(?:kicking off|going (?:mental|mad|crazy|nuts|psycho)|losing it|"
                       r"flipping out|raging|going off on one)\b"
                       rf"|\bkicking off (?:big time )?(?:{_PLACE}|now|right now)\b",
        # --- getting in ----------------------------------------------------------------
        # "they've broken in", "hes kicked the door in", "someone just broke in", "they broke in and are in my hallway"
        "broke_in": rf"\b{_HAS} (?:just )?(?:(?:broken|broke|got|climbed|come|forced (?:their|his|her|a) way) in(?:to)?|"
                    r"(?:kicked|smashed|forced|broken|knocked) (?:in |down |open )?(?:my|the|our) (?:\w+ )?(?:door|window|lock))\b"
                    r"|\bbroke in and (?:are|is|hes|theyre|now|im)\b|\b(?:hes|theyre|someones|shes) in(?: now)?(?: and|$)"
                    r"|\b(?:theyve|hes|shes|theyre|someone has|someones) got in\b",
        # "she's at the door banging", "they keep banging on my door right now", "he's banging on it"
        "at_the_door_now": rf"\b{_SOMEONE_IS} (?:{_STANDING} ){{0,2}}{_AT_THE_DOOR} "
                           r"(?:(?:on|at|through) (?:my|the|our) \w*\s?(?:door|window|letterbox)s?|on it)\b"
                           r"|\b(?:banging|knocking|hammering|kicking|pounding) (?:on|at) (?:my|the|our) (?:front |back )?"
                           r"(?:door|window)s?\b(?: \w+){0,6} (?:now|right now)\b",
        # "trying to get in", "forcing their way into the flat", "trying the door handle", "the lock is going to give"
        "getting_in": r"\b(?:breaking|smashing|forcing|kicking|fighting) (?:(?:their|his|her|a) way )?in(?:to)?\b"
                      r"|\b(?:trying to|going to|about to|tries to) (?:get in|break in|break down|break the|kick the|kick in|"
                      r"kick down|get into|get through|force|smash the|smash (?:their|his|her) way|open the)"
                      r"|\btrying (?:the|my|our) (?:front |back )?(?:door|handle|door handle|window|lock|locks)\b"
                      r"|\btrying to (?!fix|repair|mend|paint|close|lock|shut|clean)\w+ (?:open |in |down |off )?(?:the|my|our) (?:front |back )?"
                      r"(?:door|window|lock)\b"
                      r"|\b(?:door|lock|window)s? (?:is |s )?(?:going to|about to|wont) (?:give|break|go|cave|hold)\b|\bgiving way\b",
        # "breaking my door down", "kicking the door in", "smashing the place up", "ripping the door off"
        "break_in": rf"\b{_BREAKING} (?:in |down |through |up |off |the (?:hell|shit|crap|life) out of )?{_THEIR} (?:\w+ )?{_PROPERTY}\b"
                    r"|\bsmashing (?:everything|it all|things|stuff)\b",
        "throwing_at": rf"\b{_THROWING} (?:\w+ ){{0,2}}?{_MISSILE} (?:at|through|over|in)\b",
        # "my door is being kicked in", "they've just smashed the window"
        "break_in_now": r"\b(?:is|are|s|re) being (?:broken|kicked|smashed|forced|set)\b"
                        rf"|\bjust (?:\w+ )?{_JUST_DONE} (?:\w+ ){{0,3}}?(?:door|window|windows|glass|through|in|letterbox|brick|bottle)\b",
        "climbing_in": r"\bclimb(?:ing)? (?:in|into|through|over|up)\b",
        # --- weapons -------------------------------------------------------------------
        # a weapon and "here/outside" a few words apart
        "weapon_here": rf"\b{_WEAPON}\b(?: \w+){{0,6}}? (?:outside|here|right now|at (?:my|the|our) door|"
                       r"in (?:my|the|our) (?:house|flat|garden|hallway))\b"
                       rf"|\b(?:outside|here|right now|at (?:my|the|our) door)\b(?: \w+){{0,6}}? {_WEAPON}\b",
        # "he's got a knife", "waving a machete", "a man with a gun", "knife to my throat", "he's armed",
        # "threatening to throw acid"
        "has_weapon": rf"\b(?:{_words('hes shes theyve theyre ive weve s ve has have')} got|has|have) {_A}{_WEAPON}\b"
                      rf"|\b{_WIELDING} {_A}{_WEAPON}\b"
                      rf"|\b{_SOMEONE_IS} {_W}{{0,6}}?with {_A}{_WEAPON}\b"
                      rf"|\b{_WEAPON} (?:to|at|against) (?:my|her|his|our) (?:throat|neck|head|face|chest)\b"
                      r"|\b(?:hes|shes|theyre|is|are) (?:all )?(?:armed|tooled up)\b|\bgot something in (?:his|her|their) hands?\b"
                      rf"|\bthreatening (?:\w+ ){{0,5}}?{_WEAPON}\b",
        # --- fire ----------------------------------------------------------------------
        # "setting fire to the door", "smoke coming under the door", "a lit rag through the letterbox",
        # "theres a fire on the stairs" (not "the fire door"), "theyve torched my car", "theyll burn us out"
        "fire": r"\b(?:setting (?:fire|light)|set (?:fire|light) to|set (?:\w+ ){1,3}?(?:alight|on fire)|on fire|alight|"
                r"petrol bomb\w*|fire ?bomb\w*|molotov|pouring petrol|smoulder\w*|smolder\w*|lit it|set it (?:alight|on fire)|"
                r"(?:setting|letting|firing) off fireworks? (?:at|through|into|in)|flames (?:coming|everywhere|from|in|outside|under)|"
                r"(?:put|pushed|shoved|posted|stuck|threw|thrown|throwing|putting|pushing) (?:a |an |some )?(?:lit |burning )?"
                r"(?:firework|fireworks|banger|bangers|rag|flare|rocket|cigarette|petrol|lighter fluid) (?:through|in|into)|"
                r"petrol (?:through|on|over|in)|(?:smell|smells|smelling|stinks|stinking) (?:of |like )?(?:smoke|petrol|burning|gas)|"
                r"something burning|smoke (?:is |s )?(?:coming|pouring|everywhere|under|through|in)|"
                r"(?:filling|filled|full) (?:up )?(?:with|of) smoke|(?:lit|burning|flaming) (?:\w+ ){0,5}?(?:through|in) (?:my|the|our) (?:door|letterbox)|"
                r"(?:theres|there is|there s) (?:a )?fire\b(?! (?:door|alarm|escape|exit|brigade|extinguisher|blanket|safety|risk|drill))|"
                r"^fire (?:in|on|at|outside)|fire (?:at|to|in|through|on|outside) (?:my|the|our) (?:door|letterbox|house|flat|hallway|stairs|landing))"
                rf"|\b{_HAS} (?:just )?(?:torched|set fire to|set alight|fire ?bombed|petrol bombed)\b"
                rf"|\b{_WILL} (?:burn|torch|set fire to|petrol bomb) (?:\w+ ){{0,3}}?(?:down|out|alive|in it|us|me|with)\b",
        # --- someone being hurt now: them, their child, someone they can see or hear -----
        # "he's hitting me", "they are attacking my son", "attacking an old man", "theyve stabbed him"
        "being_hurt": rf"\b{_HURTING} {_VICTIM}\b{_NOT_PHYSICAL}|\bbeating (?:\w+ )?up\b|\bstabbed (?:someone|somebody|him|her|me)\b"
                      rf"|\b{_HAS} (?:just )?{_DONE_TO}(?: up)? {_VICTIM}\b",
        "being_hurt_now": rf"\b(?:being|getting|been|get) (?:(?:his|her|their|my|your) \w+ )?{_HURT}\b",
        # "his hands round my neck", "on top of me", "won't let me leave", "has my son pinned against the wall",
        # "not breathing", "driving off with my kids"
        "held_or_cornered": r"\bhands? (?:round|around|on) (?:my|her|his|the babys) (?:neck|throat)\b"
                            # "he's got my daughter", "they've taken my son"
                            rf"|\b(?:hes|shes|theyve|theyre|he has|she has|they have) (?:got|taken|grabbed|snatched) (?:my|our) {_KIN}"
                            r"(?:$| and\b| in\b| with\b| away\b| (?:hes|shes|he|she|they)\b)"
                            r"|\b(?:put|putting|got|has|hes|with) (?:his|her|their) hands on (?:me|us|her|him|my \w+)\b"
                            r"|\b(?:hes|shes|theyre|is|are) on top of (?:me|her|him)\b"
                            r"|\bgot hold of (?:me|us|her|him|my)\b|\bwont let (?:me|us|her|him|go)\b"
                            r"|\bholding (?:me|us|her|him|my \w+) (?:down|by)\b|\bpinned (?:\w+ ){0,2}?(?:down|against|to)\b"
                            r"|\bby (?:the|her|his|my) (?:neck|throat|hair)\b"
                            r"|\b(?:stood|standing) over (?:me|us|her|him)\b|\bcoming at (?:me|us|her|him)\b"
                            r"|\b(?:gone|going|lunging|lunged) (?:for|at) (?:me|us|her|him|my \w+)\b"
                            r"|\b(?:surrounded|cornered) (?:me|us|her|him|my|a|an|the|it)\b"
                            rf"|\b(?:has|have|got|s|ve) {_VICTIM} (?:cornered|surrounded|trapped|pinned)\b"
                            rf"|\b{_VICTIM} (?:on|to) the (?:floor|ground)\b"
                            r"|\b(?:not breathing|cant breathe|unconscious|not moving|passed out|lying on the (?:floor|ground))\b"
                            r"|\b(?:is|im|hes|shes|are|theyre) bleeding\b|\bbleeding (?:badly|a lot|everywhere)\b"
                            r"|\bblood everywhere\b|\bwont give (?:him|her|them|my \w+) back\b"
                            rf"|\b(?:driving|running|going) off with (?:my|our) (?:\w+ )?{_KIN}\b",
        # "i can hear the woman next door screaming", "watching a gang beat someone up", "theres a fight outside"
        "witness_now": r"\b(?:screaming|shouting|crying|yelling) (?:for help|help)\b"
                       rf"|\b(?:can see|can hear|watching|i see|i hear) (?:\w+ ){{0,5}}?{_WITNESSED}\b"
                       r"|\b(?:theres|there is|there s) (?:a )?(?:\w+ )?(?:fight|brawl|riot|stabbing|shooting)\b"
                       r"|\b(?:gunshots|shots fired|heard shots)\b|\bcan hear (?:\w+ ){0,3}?(?:smashing|breaking|glass)\b"
                       r"|\b(?:glass|window|windows|door) (?:smashing|breaking|being smashed|going in)\b",
        # "following me right now", "theres a man following me", "hes threatening my son"
        "harassed_right_now": r"\b(?:following|threatening|watching|chasing|shouting at|spitting at) (?:me|us)\b(?: \w+){0,6} right now\b"
                              r"|\bright now\b(?: \w+){0,6} (?:following|threatening|chasing) (?:me|us)\b"
                              rf"|\b(?:{_SUBJECT_IS} (?:(?:\w+ )?following (?:me|us)|threatening {_VICTIM})|"
                              rf"{_THERE_IS} (?:\w+ )?following (?:me|us)|and threatening {_VICTIM})\b",
        # "theyre fighting outside", "hes smashing the car", "someones attacking my son": violence going on now
        "violence_now": rf"\b{_SOMEONE_IS} (?:\w+ ){{0,2}}?{_VIOLENT} "
                        rf"(?:{_VICTIM}|{_THEIR} (?:\w+ )?(?:door|doors|window|windows|car|flat|house|place|glass)|"
                        rf"each other|{_PLACE}|now|right now|with)\b{_NOT_PHYSICAL}",
        # --- threats, with them there or on the way ------------------------------------
        # "he's going to kill me", "theyll get me", "threatening to stab my son", "trying to run me over", "saying im next"
        "threat_will": rf"\b{_WILL} {_HARM} (?:me|us|you|my \w+|the (?:baby|kids|children|family)|her|him)\b"
                       rf"|\b{_WILL} (?:run|knock) (?:me|us|you|her|him|my \w+) (?:over|down)\b"
                       r"|\b(?:says|saying|shouting|screaming|telling me) (?:that )?(?:im|i am|were|youre|your|you are) next\b",
        "threat_here": r"\b(?:kill|stab|shoot|hurt|burn)\w* (?:me|us|my)\b(?: \w+){0,8} (?:outside|here|now|tonight|coming|waiting)\b"
                       r"|\b(?:outside|here|now|coming)\b(?: \w+){0,8} (?:kill|stab|shoot)\w* (?:me|us)\b",
        # --- hiding, trapped, not safe -------------------------------------------------
        # "im hiding", "under the bed", "locked myself in", "he wont let me out", "hell hear me"
        "hiding_trapped": r"\b(?:hiding|trapped|barricaded|barricading)\b"
                          r"|\b(?:im|i am|were|we are|we re|kids are|the kids are) (?:all )?(?:under|in|behind) (?:the|my|a|our) "
                          r"(?:bed|wardrobe|cupboard|closet|loft|attic|shed|sofa)\b"
                          r"|\b(?:im|i am|were|we are|we re) stuck in (?:my|the|our) (?:room|bedroom|bathroom|toilet|flat|house|lift|car)\b"
                          r"|\blocked (?:myself|ourselves|me|us|her|him|the kids|the children|my \w+) (?:in|out)\b|\blocked in\b"
                          r"|\bcant (?:get out|get away|escape|get past)\b|\b(?:blocking|blocked) (?:the|my) (?:front |back )?(?:door|stairs|way)\b"
                          r"|\bwont let (?:me|us) (?:out|leave|go|past)\b"
                          r"|\b(?:hell|theyll|shell|he will|they will) hear (?:me|us)\b",
        # "im not safe at home", "my kids are not safe right now", "not safe" (not "the stairs are not
        # safe", "not safe walking home")
        "not_safe": r"\b(?:im|i am|were|we are|we re|kids are|children are|baby is|(?:my|our) \w+ (?:is|are)|me and (?:my|the) \w+ are) "
                    r"(?:not|no longer) safe\b(?! (?:anymore|any more|walking|going|to go|on the|in the area|round here|living|when|at night|outside))"
                    r"|\b(?:dont|do not) feel safe (?:(?:at home |in my \w+ |here )?(?:right now|now|tonight|at the moment))\b"
                    r"|^(?:no |nope |nah )?not (?:really )?safe(?: at all| right now| now)?$"
                    r"|\bin danger\b|\b(?:fear|scared|frightened|terrified) for (?:my|our) (?:life|lives)\b",
        # --- cries for help, calls for police ----------------------------------------
        # "help", "pls help me", "someone please help", "need help now", "please hurry": only a cry for help
        "help_only": rf"^(?:{_ONLY_HELP}\s?){{0,8}}help(?: {_AFTER_HELP})*$"
                     r"|^(?:sos|999|112|emergency)$|^(?:please |someone |pls )*(?:hurry|quick|come quick|come quickly|come now)(?: please| up)?$",
        # "help" opening a message about someone ("help theyre smashing the windows"), "call the police",
        # "send someone quick", "its an emergency"
        "cry_for_help": r"^(?:please |omg |oh god )*help (?:me |us |please )*(?:hes|shes|theyre|they|he|she|someone|somebody|someones|there|theres)\b"
                        r"|\bhelp (?:me|us) (?:to )?(?:get (?:away|out)|escape|run)\b|\bget (?:me|us) out\b"
                        r"|\b(?:help me now|help us now|help help|help (?:me|us)? ?(?:please )?(?:quick|hurry)|please help (?:me|us) (?:now|quick|please)|"
                        r"(?:call|ring|phone|dial) (?:the )?(?:police|999|112|an ambulance|ambulance|fire brigade)|"
                        r"(?:send|get) (?:the )?(?:police|an ambulance|ambulance)|send help|send (?:someone|somebody) (?:quick|now|please|asap|fast|to help)|"
                        r"send (?:someone|somebody)$|need (?:the )?(?:police|an ambulance)|(?:please|someone|somebody|pls) come (?:quick|quickly|now|fast|please)|"
                        r"sos|coming (?:for|to get) (?:me|us)|going to kill me|cant get out|(?:its|this is|its an|this is an) emergency|"
                        r"need (?:someone|somebody|help|police|the police) (?:here )?(?:now|right now|quick|quickly|urgently))\b",
        # "its happening right now", "theyre doing it again right now"
        "happening_now": r"\b(?:its|it is|this is|they are|theyre|hes|shes) (?:happening|doing it|going on) (?:again )?(?:right now|now|as we speak)\b",
    }.items()
}

# --- the time of the message -----------------------------------------------------------

# "now", "right now", "tonight", "still outside", "on their way": it is happening
_PRESENT = re.compile(
    r"\b(?:now|right now|at the moment|currently|as we speak|as i (?:type|write|speak)|this minute|tonight|"
    r"still (?:here|there|out there|outside|inside|in|at|on|trying|banging|kicking|hitting|waiting)|"
    r"on (?:his|her|their) way|on the way$|(?:hes|shes|theyre|is|are) (?:\w+ ){0,3}?again|"
    r"just (?:now|turned up|showed up|arrived|come|came|got here))\b"
)
# "I'm safe now", "he's gone", "the police are here": over, so its "now" does not count
_SAFE = re.compile(
    r"\b(?:(?:im|i am|were|we are|were all|everyone is|kids are|we re) (?:(?!not\b)\w+ )?(?:safe|fine|ok|okay|alright|all right)|"
    r"(?:hes|shes|theyve|theyre|they have|he has|she has|they) (?:\w+ )?(?:gone|left|been arrested|got arrested)"
    r"(?! (?:a|the|some|his|her|their|something|stuff|notes?|it|me|us)\b)|"
    r"(?:safe|fine|ok) now|police (?:are|is|were) here|police have)\b(?: now)?"
)
# past times: "yesterday", "last week", "on monday", "in march", "a while ago", "the time they..."
_PAST = re.compile(
    r"\b(?:yesterday|last (?:night|week|weekend|month|year|time|summer|winter|spring|autumn|christmas|\w+day)|ago|earlier|"
    r"the other (?:day|night|week)|over the weekend|at the weekend|on (?:the )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"(?:in|back in|since) (?:january|february|march|april|may|june|july|august|september|october|november|december|the summer|20\d\d)|"
    r"at christmas|on (?:new years|bonfire|christmas|halloween) (?:eve|night|day)|on (?:new years|bonfire night|christmas|halloween)|"
    r"used to|the time (?:they|he|she|when)|that time|at the time|years ago|once|when (?:we|i) (?:first )?moved|while (?:we|i) (?:were|was) away|"
    r"this morning|overnight|in the night|(?:before|over|during|in) the (?:holidays|summer|christmas|easter|half term|lockdown)|"
    r"before$|before (?:and|but|so|that|too|as well)|(?:he|she|they)s done (?:it|this|that) before)\b"
)
# what-ifs, questions about the service, the future, online, a report about it: "if he comes back",
# "one day", "should I call 999", "on facebook", "I want to report..." ("he said if I call anyone
# he'll kill me" is a threat, not a what-if)
_NOT_YET = re.compile(
    r"^if\b|\b(?:what if|what (?:do|should|can|would) i do|in case|if (?:he|she|they|someone|anyone|it) (?:ever )?"
    r"(?:comes?|turns?|does|do|tries|try|breaks?|starts?|gets?|returns?|finds?|sees?|has|had|is|was)|if (?:theres|there is)|"
    r"do i (?:need|have) to|or 101|online|on (?:facebook|social media|whatsapp|twitter|instagram|tiktok|snapchat)|one day|some day|someday|"
    r"one of these days|eventually|might|next time|in (?:the )?future|tomorrow|next week|should i|do you|"
    r"does (?:this|it)|will you|would you|who do i|how do i|how can i|what happens|in an emergency|"
    r"(?:want|would like|wanted|like|need) to report|(?:to|can i|how do i) report (?:a|an|someone|something|people)|"
    r"keep (?:thinking|worrying|imagining)|(?:i|we) worry|worried (?:that|about)|nightmares?|dreams? (?:that|about))\b"
)
# habits: "every day", "all the time", "always" (these hold even against "theyre outside": "theyre
# outside every night" is a report) and "he keeps saying" (this one does not)
_HABIT = re.compile(
    r"\b(?:every (?:day|night|time|week|weekend|morning|evening)|all the time|always|most (?:days|nights|weekends)|"
    r"whenever|sometimes|usually|regularly|constantly|often|all (?:day|night)|most of the time|a lot(?! of)|"
    r"(?:loads of|lots of|many|a few|several|\w+) times|twice|nearly every)\b"
)
_KEEPS_SAYING = re.compile(r"\bkeeps? (?:saying|telling|threatening|messaging|texting|posting)\b")
# present-tense patterns that outweigh a past time, a what-if or "keeps saying" ("they attacked me on
# sunday and theyre outside", "they keep saying theyll kill us and theyre downstairs")
_PRESENT_TENSE = {"perpetrator_here", "hiding_trapped", "happening_now", "help_only"}
# An act in progress ("he's hitting me", "they're kicking my door in") is now, whatever else the
# message says ("...he's done it before", "it happens every weekend", "should I call 999"); so is
# someone here with a weapon ("he always carries a knife and he's outside my door").
_ACTS_NOW = {
    "being_hurt", "violence_now", "break_in", "break_in_now", "getting_in", "climbing_in", "at_the_door_now",
    "harassed_right_now", "witness_now", "throwing_at",
}
_ARMED = {"weapon_here", "has_weapon"}


def _acts_now(found: list[str]) -> bool:
    return bool(_ACTS_NOW.intersection(found)) or ("perpetrator_here" in found and bool(_ARMED.intersection(found)))


_NEGATORS = {"not", "never", "nobody", "isnt", "arent", "wasnt", "werent", "dont", "doesnt", "didnt", "hasnt", "havent", "longer"}
_ADVERBS = {"really", "actually", "even", "exactly", "currently"}
# "a record for stabbing someone", "charged with attacking me": an -ing after these is no act now
_GERUND_AFTER = {"for", "of", "about", "with", "from", "after", "since", "by"}


def _voided(norm: str, start: int) -> bool:
    """The match comes straight after "not" ("I'm not in danger"), "was"/"they were"
    ("they were carrying bats") or "for"/"of" + an -ing ("a record for stabbing someone"):
    it is denied, told in the past, or not an act at all."""
    before = norm[max(0, start - 40):start].split()[-3:]
    while before and before[-1] in _ADVERBS:  # "I'm not really in danger"
        before.pop()
    last = before[-1] if before else ""
    if last in _NEGATORS or last == "was" or (last == "were" and len(before) > 1):
        return True
    return last in _GERUND_AFTER and norm[start:start + 30].split(" ", 1)[0].endswith("ing")


def _is_now(norm: str, found: list[str]) -> bool:
    live = _SAFE.sub(" ", norm)
    if _PRESENT.search(live) or _acts_now(found):
        return True
    if _HABIT.search(norm):
        return False
    if _PRESENT_TENSE.intersection(found):
        return True
    return not (_NOT_YET.search(norm) or _KEEPS_SAYING.search(norm) or live != norm or _PAST.search(norm))


def danger_signs(text: str) -> list[str]:
    """The names of the patterns this message matches (empty when none)."""
    norm = _prepare(text)
    found = [name for name, pattern in PATTERNS.items()
             if any(not _voided(norm, m.start()) for m in pattern.finditer(norm))]
    if found and not _is_now(norm, found):
        return []  # in the past, a what-if, a habit, or over: a report, not an emergency
    return found


def is_danger_now(text: str) -> bool:
    return bool(danger_signs(text))


# "they keep putting notes through my door": what keeps happening is harassment to report (an act
# in progress, "he keeps hitting me", is the lexicon's and is caught before this is asked)
_KEEPS_DOING = re.compile(r"\bkeeps? (?:on )?\w+ing\b")
# "help with my rent", "help me fill in the form": help with something is not a cry for help
_ORDINARY_HELP = re.compile(r"\bhelp (?:me )?(?:with (?:my|the|a|an|this|that|something|some|it)\b|understand|fill|fix|sort out|apply)")


def reads_as_report(text: str) -> bool:
    """The message is told in the past, as a habit, as a what-if or a question, online, with
    them safe now, or asks for help with something: whatever its words, not an emergency now.
    Used to overrule a language model that hears "knife", "fire" or "help" and says danger
    (bot/rasa_ext/danger_nlu.py)."""
    norm = _prepare(text)
    return bool(_ORDINARY_HELP.search(norm) or _KEEPS_DOING.search(norm)) or not _is_now(norm, [])


def says_now(text: str) -> bool:
    """The message says it is happening now ("now", "right now", "tonight", "still here", "on his
    way", "again"...), not just that it happened or happens."""
    norm = _prepare(text)
    return bool(_PRESENT.search(_SAFE.sub(" ", norm)))

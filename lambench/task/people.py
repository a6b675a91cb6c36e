"""The pool ``type: person`` parameters sample from: (first name, last name), varied in origin, none of them a
name the default mock-OS desktop already uses (its seeded contacts and filler mail), so a sampled person is
never confused with a bystander. A data table (exempt from the module length limit)."""

PEOPLE: tuple[tuple[str, str], ...] = (
    ("Amara", "Okonkwo"), ("Lukas", "Brandt"), ("Sofia", "Marchetti"), ("Kenji", "Watanabe"), ("Ingrid", "Lund"),
    ("Mateo", "Herrera"), ("Leila", "Haddad"), ("Tomasz", "Kowalczyk"), ("Aiko", "Tanaka"), ("Rafael", "Souza"),
    ("Nadia", "Petrova"), ("Oskar", "Nilsson"), ("Zainab", "Bello"), ("Hugo", "Lefevre"), ("Mei", "Lin"),
    ("Diego", "Alvarez"), ("Freya", "Andersen"), ("Arjun", "Mehta"), ("Elif", "Yilmaz"), ("Jonah", "Whitaker"),
    ("Chiara", "Romano"), ("Kwame", "Mensah"), ("Hanna", "Virtanen"), ("Ravi", "Iyer"), ("Lucia", "Navarro"),
    ("Pieter", "de Vries"), ("Yara", "Khoury"), ("Mikael", "Berg"), ("Ines", "Carvalho"), ("Tariq", "Aziz"),
    ("Greta", "Hoffmann"), ("Sipho", "Ndlovu"), ("Camille", "Dubois"), ("Hiroshi", "Sato"), ("Olga", "Ivanova"),
    ("Marco", "Bianchi"), ("Anika", "Sharma"), ("Felix", "Wagner"), ("Noor", "Rahimi"), ("Emeka", "Eze"),
    ("Clara", "Jensen"), ("Bruno", "Costa"), ("Soo-ah", "Choi"), ("Ivan", "Horvat"), ("Maya", "Goldberg"),
    ("Andrei", "Popescu"), ("Fatima", "El Amrani"), ("Samuel", "Osei"), ("Lena", "Schubert"), ("Pablo", "Ortega"),
    ("Astrid", "Holm"), ("Vikram", "Rao"), ("Julia", "Novak"), ("Thiago", "Lima"), ("Ayla", "Demir"),
    ("Magnus", "Eriksen"), ("Chloe", "Martin"), ("Kofi", "Asante"), ("Vera", "Sokolova"), ("Luca", "Ferrari"),
)

"""Name, place and provider pools for the persons benchmark (B2C, person grain).

Kept apart from generate.py so the generator logic stays readable. Everything here is
this benchmark's own list: common given names and surnames per country (rank order =
frequency order, Zipf-weighted at draw time), nickname tables, cities with their exonyms
and spelling variants, free-mail providers per country, and the placeholder values that
real sign-up forms collect.
"""

# country: (weight, faker locale, share of names drawn from the pools below vs Faker)
COUNTRIES = {
    "GB": (20, "en_GB", 0.65),
    "DE": (16, "de_DE", 0.70),
    "FR": (11, "fr_FR", 0.60),
    "PL": (10, "pl_PL", 0.75),
    "ES": (10, "es_ES", 0.70),
    "TR": (7, "tr_TR", 0.90),
    "US": (15, "en_US", 0.60),
    "NL": (8, "nl_NL", 0.65),
    "DK": (3, "da_DK", 0.70),
}

SURNAMES = {
    "GB": ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts",
           "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris",
           "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore",
           "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "O'Brien", "O'Connor", "McDonald", "MacLeod",
           "Khan", "Murphy", "Price", "Bennett", "Griffiths", "Kaur", "Shaw", "Lloyd", "Ellis", "Fletcher",
           "Gallagher"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
           "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
           "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
           "Lehmann", "Köhler", "Jäger", "Groß", "Weiß", "Böhm", "Günther", "Fuchs", "Vogel", "Keller", "Frank",
           "Möller", "Yılmaz", "Kaya", "Scholz", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas",
           "Voigt", "Sauer", "Arnold", "Wolff", "Lorenz"],
    "FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
           "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
           "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand",
           "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Chevalier", "Gauthier", "Perrin", "Boyer", "Lemaire",
           "Lévêque", "Mathieu", "Clément", "Gérard", "Noël", "Fontaine", "Barbier", "Brun", "Caron", "Lacroix",
           "Benoît", "Rolland"],
    "ES": ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín",
           "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez",
           "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina",
           "Morales", "Suárez", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín", "Sanz", "Núñez", "Iglesias",
           "Medina", "Garrido", "Cortés", "Castillo", "Santos", "Lozano", "Guerrero", "Cano", "Prieto", "Méndez",
           "Cruz", "Calvo", "Gallego", "Vidal", "León", "Márquez", "Herrera", "Peña", "Flores", "Cabrera", "Campos",
           "Vega", "Fuentes", "Carrasco", "Ibáñez", "Ferrer", "Durán"],
    "TR": ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir", "Arslan",
           "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek", "Polat", "Öz", "Korkmaz",
           "Erdoğan", "Güneş", "Aksoy", "Avcı", "Tekin", "Taş", "Bulut", "Keskin", "Ünal", "Güler", "Turan", "Özer",
           "Acar", "Uçar", "Gündoğdu", "Sarı", "Kocabaş"],
    "US": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
           "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
           "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
           "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
           "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Kim", "O'Neil", "Murphy",
           "Cohen", "Schmidt", "Kowalski", "Sullivan", "Patel", "Nowak", "Rossi"],
    "NL": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer",
           "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
           "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan",
           "Vermeulen", "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "van der Heijden", "Schouten",
           "van Beek", "Willems", "van Vliet", "Hoekstra", "Maas", "Verhoeven", "Koster", "van Dam", "Prins", "Blom",
           "Huisman", "Kuipers", "van Veen", "Post", "Yılmaz", "Öztürk"],
    "DK": ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
           "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Christiansen", "Poulsen", "Johansen",
           "Møller", "Mortensen", "Østergaard", "Søndergaard", "Kjær", "Bækgaard", "Lønborg", "Dahl", "Holm", "Frøkjær",
           "Bøgh", "Skovgaard"],
}

# Polish surnames with a feminine form
PL_SURNAMES = [
    ("Nowak", "Nowak"), ("Kowalski", "Kowalska"), ("Wiśniewski", "Wiśniewska"), ("Wójcik", "Wójcik"),
    ("Kowalczyk", "Kowalczyk"), ("Kamiński", "Kamińska"), ("Lewandowski", "Lewandowska"),
    ("Zieliński", "Zielińska"), ("Szymański", "Szymańska"), ("Woźniak", "Woźniak"), ("Dąbrowski", "Dąbrowska"),
    ("Kozłowski", "Kozłowska"), ("Jankowski", "Jankowska"), ("Mazur", "Mazur"), ("Wojciechowski", "Wojciechowska"),
    ("Kwiatkowski", "Kwiatkowska"), ("Krawczyk", "Krawczyk"), ("Kaczmarek", "Kaczmarek"),
    ("Piotrowski", "Piotrowska"), ("Grabowski", "Grabowska"), ("Zając", "Zając"), ("Pawłowski", "Pawłowska"),
    ("Michalski", "Michalska"), ("Król", "Król"), ("Wieczorek", "Wieczorek"), ("Jabłoński", "Jabłońska"),
    ("Wróbel", "Wróbel"), ("Nowakowski", "Nowakowska"), ("Majewski", "Majewska"), ("Olszewski", "Olszewska"),
    ("Stępień", "Stępień"), ("Malinowski", "Malinowska"), ("Jaworski", "Jaworska"), ("Adamczyk", "Adamczyk"),
    ("Dudek", "Dudek"), ("Górski", "Górska"), ("Nowicki", "Nowicka"), ("Sikora", "Sikora"),
    ("Walczak", "Walczak"), ("Baran", "Baran"), ("Rutkowski", "Rutkowska"), ("Michalak", "Michalak"),
]

GIVEN = {  # (male, female)
    "GB": (["Oliver", "Jack", "Harry", "George", "James", "William", "Thomas", "Robert", "Richard", "David", "Michael",
            "Christopher", "Daniel", "Matthew", "Andrew", "Edward", "Joseph", "Samuel", "Benjamin", "Alexander",
            "Jonathan", "Stephen", "Peter", "Paul", "Mark", "Simon", "Gareth", "Owen", "Callum", "Liam", "Charles",
            "Henry", "Frederick", "Nicholas", "Anthony"],
           ["Olivia", "Emily", "Elizabeth", "Margaret", "Catherine", "Katherine", "Sarah", "Jessica", "Rebecca",
            "Victoria", "Charlotte", "Sophie", "Amelia", "Emma", "Hannah", "Lucy", "Abigail", "Samantha", "Jennifer",
            "Susan", "Helen", "Alexandra", "Eleanor", "Chloe", "Rachel", "Megan", "Deborah", "Patricia", "Amanda",
            "Natalie", "Kimberley", "Josephine"]),
    "DE": (["Johannes", "Maximilian", "Alexander", "Paul", "Lukas", "Felix", "Jonas", "Michael", "Thomas", "Andreas",
            "Stefan", "Christian", "Wolfgang", "Jürgen", "Friedrich", "Matthias", "Sebastian", "Florian", "Josef",
            "Ulrich", "Heinrich", "Jörg", "Dominik", "Benedikt", "Tobias", "Markus", "Klaus", "Uwe", "Günter", "Mehmet",
            "Emre", "Dieter"],
           ["Katharina", "Elisabeth", "Anna", "Maria", "Sophie", "Lena", "Susanne", "Stefanie", "Franziska", "Julia",
            "Sabine", "Petra", "Ursula", "Margarete", "Barbara", "Theresa", "Bärbel", "Jana", "Laura", "Christina",
            "Monika", "Andrea", "Birgit", "Jülide", "Sevgi", "Hannelore", "Käthe"]),
    "FR": (["Jean", "Pierre", "Michel", "François", "Frédéric", "Nicolas", "Christophe", "Sébastien", "Stéphane",
            "Philippe", "Alexandre", "Emmanuel", "Guillaume", "Jérôme", "Julien", "Thomas", "Benjamin", "Jean-Pierre",
            "Jean-Baptiste", "Jean-François", "Maximilien", "Hugo", "Théo", "Raphaël", "Mathéo", "Loïc", "Gaëtan"],
           ["Marie", "Catherine", "Isabelle", "Stéphanie", "Élisabeth", "Nathalie", "Sophie", "Anne-Sophie", "Céline",
            "Hélène", "Amélie", "Chloé", "Léa", "Margaux", "Dominique", "Françoise", "Véronique", "Manon", "Camille",
            "Inès", "Zoé", "Anaïs", "Gaëlle", "Marie-Claire"]),
    "PL": (["Jan", "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Marcin", "Jakub", "Wojciech",
            "Grzegorz", "Łukasz", "Mateusz", "Józef", "Stanisław", "Aleksander", "Kacper", "Adam", "Marek", "Rafał",
            "Zbigniew", "Przemysław", "Bartłomiej"],
           ["Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Elżbieta", "Zofia", "Joanna",
            "Magdalena", "Aleksandra", "Dorota", "Monika", "Beata", "Justyna", "Grażyna", "Jadwiga", "Urszula",
            "Bożena", "Weronika"]),
    "ES": (["José", "Antonio", "Manuel", "Francisco", "Juan", "David", "Javier", "Jesús", "Daniel", "Carlos",
            "Miguel", "Alejandro", "José Luis", "José Antonio", "Ignacio", "Enrique", "Fernando", "Eduardo",
            "Roberto", "Pablo", "Sergio", "Jorge", "Álvaro", "Ángel", "Juan José", "Rubén", "Iñaki", "José María"],
           ["María", "Carmen", "Ana", "Isabel", "Dolores", "Pilar", "Laura", "Cristina", "Lucía", "Mercedes",
            "Rosario", "Concepción", "Josefa", "Marta", "Elena", "Raquel", "María José", "María Carmen",
            "Guadalupe", "Consuelo", "Begoña", "Nuria", "Ainhoa", "Montserrat"]),
    "TR": (["Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan", "İbrahim", "İsmail", "Yusuf", "Ömer", "Murat",
            "Emre", "Burak", "Can", "Oğuz", "Gökhan", "Serkan", "Çağrı", "Abdullah", "Barış", "Uğur", "Tolga", "Şükrü"],
           ["Fatma", "Ayşe", "Emine", "Hatice", "Zeynep", "Elif", "Meryem", "Şerife", "Zehra", "Sultan", "Hülya",
            "Özlem", "Gül", "Büşra", "Esra", "Merve", "Ebru", "Şeyma", "Gülşen", "Dilek", "Çiğdem"]),
    "US": (["James", "Robert", "John", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
            "Christopher", "Daniel", "Matthew", "Anthony", "Donald", "Steven", "Kenneth", "Joshua", "Andrew", "Gregory",
            "Ronald", "Timothy", "Zachary", "Nathan", "Tyler", "Brandon", "Jose", "Carlos", "Luis"],
           ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
            "Nancy", "Margaret", "Kimberly", "Deborah", "Amanda", "Rebecca", "Samantha", "Katherine", "Christine",
            "Victoria", "Abigail", "Dorothy", "Ashley", "Brittany", "Maria", "Guadalupe"]),
    "NL": (["Jan", "Johannes", "Hendrik", "Cornelis", "Pieter", "Willem", "Gerrit", "Jacobus", "Dirk", "Sander",
            "Thijs", "Daan", "Bram", "Lars", "Ruben", "Wilhelmus", "Antonius", "Franciscus", "Theodorus", "Adrianus",
            "Petrus", "Joost", "Maarten"],
           ["Maria", "Johanna", "Anna", "Elisabeth", "Cornelia", "Wilhelmina", "Catharina", "Margaretha", "Sanne",
            "Lotte", "Femke", "Anouk", "Eva", "Iris", "Lieke", "Marieke", "Anneke", "Ingrid", "Annelies"]),
    "DK": (["Søren", "Jens", "Lars", "Niels", "Anders", "Mads", "Rasmus", "Jørgen", "Morten", "Christian", "Kristoffer",
            "Johannes", "Bjørn", "Frederik", "Henrik", "Poul"],
           ["Anne", "Mette", "Kirsten", "Hanne", "Karen", "Lene", "Margrethe", "Ida", "Freja", "Sofie", "Birgitte",
            "Else", "Åse", "Signe", "Maja", "Helle", "Bodil"]),
}

# Russian / Ukrainian diaspora (Cyrillic original; rendered in Latin with several schemes)
RU_GIVEN = (
    ["Александр", "Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Иван", "Владимир", "Николай", "Павел", "Евгений",
     "Константин", "Юрий", "Олег"],
    ["Екатерина", "Мария", "Наталья", "Елена", "Ольга", "Анастасия", "Татьяна", "Светлана", "Ирина", "Юлия", "Людмила",
     "Александра", "Ксения"],
)
RU_SURNAMES = [  # (male, female)
    ("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"), ("Попов", "Попова"),
    ("Соколов", "Соколова"), ("Лебедев", "Лебедева"), ("Козлов", "Козлова"), ("Новиков", "Новикова"),
    ("Морозов", "Морозова"), ("Петров", "Петрова"), ("Волков", "Волкова"), ("Соловьёв", "Соловьёва"),
    ("Васильев", "Васильева"), ("Зайцев", "Зайцева"), ("Павлов", "Павлова"), ("Шевченко", "Шевченко"),
    ("Бондаренко", "Бондаренко"), ("Коваленко", "Коваленко"), ("Ткаченко", "Ткаченко"), ("Жуков", "Жукова"),
    ("Щербаков", "Щербакова"), ("Хохлов", "Хохлова"), ("Чернов", "Чернова"), ("Юдин", "Юдина"),
]

# formal given name -> nicknames (keys are matched after accent folding + lower case in the
# ceiling computation; values are rendered as written)
NICKNAMES = {
    # English
    "William": ["Bill", "Will", "Billy", "Liam"], "Robert": ["Bob", "Rob", "Bobby", "Robbie"],
    "Elizabeth": ["Liz", "Beth", "Lizzie", "Betty"], "Richard": ["Rick", "Dick", "Richie"],
    "James": ["Jim", "Jimmy", "Jamie"], "Michael": ["Mike", "Mick", "Mikey"], "Margaret": ["Maggie", "Peggy", "Meg"],
    "Katherine": ["Kate", "Katie", "Kathy"], "Catherine": ["Kate", "Cathy", "Cat"], "Thomas": ["Tom", "Tommy"],
    "Joseph": ["Joe", "Joey"], "Daniel": ["Dan", "Danny"], "Christopher": ["Chris", "Kit"], "Matthew": ["Matt"],
    "Anthony": ["Tony"], "Edward": ["Ed", "Ted", "Eddie"], "Jennifer": ["Jen", "Jenny"], "Rebecca": ["Becky", "Becca"],
    "Samantha": ["Sam", "Sammy"], "Alexander": ["Alex", "Sandy"], "Benjamin": ["Ben", "Benji"],
    "Nicholas": ["Nick", "Nicky"], "Andrew": ["Andy", "Drew"], "Patricia": ["Pat", "Trish", "Patty"],
    "Susan": ["Sue", "Suzy"], "Deborah": ["Debbie", "Deb"], "Victoria": ["Vicky", "Tori"], "Jonathan": ["Jon", "Jonny"],
    "Timothy": ["Tim"], "Stephen": ["Steve"], "Steven": ["Steve"], "Charles": ["Charlie", "Chuck"],
    "Henry": ["Harry", "Hank"], "Frederick": ["Fred", "Freddie"], "Gregory": ["Greg"], "Kenneth": ["Ken", "Kenny"],
    "Donald": ["Don"], "Ronald": ["Ron", "Ronnie"], "Abigail": ["Abby"], "Jessica": ["Jess", "Jessie"],
    "Alexandra": ["Alex", "Lexi", "Sasha"], "Zachary": ["Zach"], "Joshua": ["Josh"], "Nathan": ["Nate"],
    "Samuel": ["Sam"], "Eleanor": ["Ellie", "Nora"], "Natalie": ["Nat"], "Amanda": ["Mandy"],
    "Kimberly": ["Kim"], "Kimberley": ["Kim"], "Christine": ["Chris", "Chrissy"], "Dorothy": ["Dot", "Dottie"],
    "Barbara": ["Barb", "Babs"], "Josephine": ["Jo", "Josie"], "Peter": ["Pete"],
    # German
    "Johannes": ["Hansi", "Hans", "Jo"], "Wolfgang": ["Wolf"], "Friedrich": ["Fritz"], "Katharina": ["Kathi", "Kati"],
    "Elisabeth": ["Lisa", "Sissi", "Elli", "Els"], "Josef": ["Sepp", "Seppi"], "Matthias": ["Matze", "Hias"],
    "Susanne": ["Susi"], "Margarete": ["Grete", "Gretel"], "Franziska": ["Franzi"], "Stefanie": ["Steffi"],
    "Andreas": ["Andi"], "Maximilian": ["Max", "Maxi"], "Sebastian": ["Basti"], "Ulrich": ["Uli"],
    "Heinrich": ["Heinz", "Heini"], "Theresa": ["Resi"], "Florian": ["Flo"], "Benedikt": ["Bene"],
    "Dominik": ["Dome"], "Christina": ["Tina"], "Hannelore": ["Hanne"], "Tobias": ["Tobi"], "Markus": ["Mac"],
    # French
    "Frédéric": ["Fred"], "Nicolas": ["Nico"], "Christophe": ["Chris"], "Isabelle": ["Isa"], "Alexandre": ["Alex"],
    "Stéphanie": ["Steph"], "Sébastien": ["Seb"], "Dominique": ["Domi"], "Emmanuel": ["Manu"],
    "Jean-Pierre": ["JP"], "Jean-Baptiste": ["JB"], "Maximilien": ["Max"], "Élisabeth": ["Babette", "Lise"],
    "Philippe": ["Phil"], "Guillaume": ["Guigui"], "Raphaël": ["Raph"], "Camille": ["Cam"],
    # Polish
    "Katarzyna": ["Kasia", "Kaśka"], "Małgorzata": ["Gosia", "Małgosia"], "Aleksandra": ["Ola"],
    "Aleksander": ["Olek"], "Agnieszka": ["Aga"], "Magdalena": ["Magda", "Madzia"], "Joanna": ["Asia"],
    "Elżbieta": ["Ela"], "Krzysztof": ["Krzyś"], "Tomasz": ["Tomek"], "Piotr": ["Piotrek"], "Wojciech": ["Wojtek"],
    "Jakub": ["Kuba"], "Andrzej": ["Jędrek"], "Zofia": ["Zosia"], "Józef": ["Józek"], "Stanisław": ["Staszek"],
    "Grzegorz": ["Grześ"], "Bartłomiej": ["Bartek"], "Przemysław": ["Przemek"], "Weronika": ["Wera"],
    # Spanish
    "Francisco": ["Paco", "Pancho", "Curro"], "José": ["Pepe"], "Jesús": ["Chus", "Chucho"], "Manuel": ["Manolo"],
    "Ignacio": ["Nacho"], "Guadalupe": ["Lupe"], "Dolores": ["Lola"], "Concepción": ["Concha", "Conchi"],
    "Rosario": ["Charo"], "Enrique": ["Quique"], "Antonio": ["Toño", "Toni"], "Alejandro": ["Álex"],
    "Roberto": ["Beto"], "Eduardo": ["Edu"], "Mercedes": ["Merche"], "Consuelo": ["Chelo"], "Josefa": ["Pepa"],
    "Fernando": ["Nando"], "José María": ["Chema"], "Juan José": ["Juanjo"], "María José": ["Majo"],
    "Isabel": ["Isa"], "Montserrat": ["Montse"],
    # Turkish
    "Mehmet": ["Memo"], "Mustafa": ["Musti"], "Hüseyin": ["Hüso"], "Abdullah": ["Apo"], "Fatma": ["Fato"],
    # Dutch
    "Hendrik": ["Henk", "Rik"], "Cornelis": ["Kees"], "Jacobus": ["Koos", "Jaap"], "Wilhelmina": ["Mien", "Willy"],
    "Petrus": ["Piet"], "Adrianus": ["Arie", "Adrie"], "Maria": ["Mieke", "Marieke", "Maja"],
    "Catharina": ["Tineke", "Karin"], "Margaretha": ["Greet"], "Theodorus": ["Theo"], "Franciscus": ["Frans"],
    "Antonius": ["Toon", "Ton"], "Wilhelmus": ["Wim"], "Johanna": ["Anneke", "Jo"], "Gerrit": ["Gert"],
    "Cornelia": ["Corrie", "Nel"], "Willem": ["Wim"],
    # Danish
    "Kristoffer": ["Kris"], "Margrethe": ["Grete"], "Frederik": ["Frede"], "Birgitte": ["Gitte"],
    # Russian (keys are the scheme-A Latin spelling)
    "Aleksandr": ["Sasha", "Sanya"], "Aleksey": ["Alyosha", "Lyosha"], "Dmitriy": ["Dima"],
    "Yekaterina": ["Katya"], "Mariya": ["Masha"], "Natalya": ["Natasha"], "Vladimir": ["Volodya", "Vova"],
    "Mikhail": ["Misha"], "Yelena": ["Lena"], "Ivan": ["Vanya"], "Sergey": ["Seryozha"], "Olga": ["Olya"],
    "Anastasiya": ["Nastya"], "Tatyana": ["Tanya"], "Yevgeniy": ["Zhenya"], "Nikolay": ["Kolya"],
    "Pavel": ["Pasha"], "Svetlana": ["Sveta"], "Irina": ["Ira"], "Lyudmila": ["Lyuda"], "Andrey": ["Andryusha"],
    "Yuliya": ["Yulya"], "Konstantin": ["Kostya"], "Kseniya": ["Ksyusha"], "Yuriy": ["Yura"],
}

# canonical city, spelling variants / exonyms (variants are drawn in some records), weight, (US state)
CITIES = {
    "GB": [("London", ["LONDON", "London, UK"], 30), ("Manchester", [], 8), ("Birmingham", [], 8), ("Leeds", [], 6),
           ("Glasgow", [], 6), ("Liverpool", [], 5), ("Bristol", [], 5), ("Edinburgh", ["Edinburgh, Scotland"], 5),
           ("Sheffield", [], 4), ("Cardiff", ["Caerdydd"], 4),
           ("Newcastle upon Tyne", ["Newcastle", "Newcastle-upon-Tyne"], 4),
           ("Nottingham", [], 3), ("Leicester", [], 3), ("Brighton", ["Brighton and Hove", "Brighton & Hove"], 3),
           ("Oxford", [], 2), ("Cambridge", [], 2), ("York", [], 2), ("Aberdeen", [], 2)],
    "DE": [("Berlin", [], 20), ("Hamburg", [], 10), ("München", ["Munich", "Muenchen", "Munchen"], 10),
           ("Köln", ["Cologne", "Koeln", "Koln"], 8),
           ("Frankfurt am Main", ["Frankfurt", "Frankfurt/Main", "Frankfurt a. M."], 7),
           ("Stuttgart", [], 5), ("Düsseldorf", ["Duesseldorf", "Dusseldorf"], 5), ("Leipzig", [], 4),
           ("Dortmund", [], 4),
           ("Essen", [], 3), ("Bremen", [], 3), ("Dresden", [], 3), ("Hannover", ["Hanover"], 3),
           ("Nürnberg", ["Nuremberg", "Nuernberg"], 3), ("Freiburg im Breisgau", ["Freiburg"], 2)],
    "FR": [("Paris", ["PARIS", "Paris Cedex 08"], 30), ("Marseille", ["Marseilles"], 8), ("Lyon", ["Lyons"], 8),
           ("Toulouse", [], 6), ("Nice", [], 5), ("Nantes", [], 5), ("Strasbourg", [], 4), ("Montpellier", [], 4),
           ("Bordeaux", [], 4), ("Lille", [], 4), ("Rennes", [], 3),
           ("Saint-Étienne", ["Saint-Etienne", "St-Etienne", "St Étienne"], 2),
           ("Grenoble", [], 2)],
    "PL": [("Warszawa", ["Warsaw", "WARSZAWA"], 25), ("Kraków", ["Krakow", "Cracow"], 12), ("Łódź", ["Lodz"], 8),
           ("Wrocław", ["Wroclaw"], 8), ("Poznań", ["Poznan"], 7), ("Gdańsk", ["Gdansk"], 6), ("Szczecin", [], 4),
           ("Bydgoszcz", [], 3), ("Lublin", [], 4), ("Katowice", [], 4), ("Gdynia", [], 3),
           ("Białystok", ["Bialystok"], 3)],
    "ES": [("Madrid", [], 25), ("Barcelona", [], 18), ("Valencia", ["València"], 8), ("Sevilla", ["Seville"], 7),
           ("Zaragoza", ["Saragossa"], 5), ("Málaga", ["Malaga"], 5), ("Murcia", [], 3),
           ("Palma", ["Palma de Mallorca"], 3), ("Las Palmas de Gran Canaria", ["Las Palmas"], 3),
           ("Bilbao", ["Bilbo"], 3),
           ("Alicante", ["Alacant"], 3), ("Córdoba", ["Cordoba"], 2), ("A Coruña", ["La Coruña", "A Coruna"], 2)],
    "TR": [("İstanbul", ["Istanbul", "ISTANBUL"], 40), ("Ankara", [], 15), ("İzmir", ["Izmir"], 10), ("Bursa", [], 6),
           ("Antalya", [], 6), ("Adana", [], 4), ("Konya", [], 4), ("Gaziantep", [], 3), ("Kayseri", [], 2),
           ("Eskişehir", ["Eskisehir"], 2)],
    "US": [("New York", ["NYC", "New York City"], 20, "NY"), ("Los Angeles", ["LA"], 12, "CA"),
           ("Chicago", [], 8, "IL"),
           ("Houston", [], 6, "TX"), ("Phoenix", [], 4, "AZ"), ("Philadelphia", ["Philly"], 4, "PA"),
           ("San Antonio", [], 3, "TX"), ("San Diego", [], 3, "CA"), ("Dallas", [], 4, "TX"), ("Austin", [], 3, "TX"),
           ("Seattle", [], 4, "WA"), ("Boston", [], 4, "MA"), ("Denver", [], 3, "CO"), ("Atlanta", [], 3, "GA"),
           ("Miami", [], 3, "FL"), ("San Francisco", ["SF"], 4, "CA")],
    "NL": [("Amsterdam", [], 20), ("Rotterdam", [], 12), ("Den Haag", ["'s-Gravenhage", "The Hague"], 10),
           ("Utrecht", [], 8), ("Eindhoven", [], 5), ("Groningen", [], 4), ("Tilburg", [], 4), ("Almere", [], 3),
           ("Breda", [], 3), ("Nijmegen", [], 3), ("Haarlem", [], 3), ("Leiden", [], 2)],
    "DK": [("København", ["Copenhagen", "Kobenhavn", "Koebenhavn", "København K"], 25), ("Aarhus", ["Århus"], 12),
           ("Odense", [], 6), ("Aalborg", ["Ålborg"], 5), ("Esbjerg", [], 3), ("Randers", [], 2), ("Kolding", [], 2)],
}

FREEMAIL = {
    "GB": [("gmail.com", 40), ("hotmail.co.uk", 12), ("outlook.com", 10), ("yahoo.co.uk", 8), ("btinternet.com", 6),
           ("icloud.com", 8), ("live.co.uk", 4), ("sky.com", 4), ("aol.com", 2), ("googlemail.com", 3)],
    "DE": [("gmail.com", 25), ("web.de", 20), ("gmx.de", 18), ("t-online.de", 10), ("gmx.net", 6), ("outlook.de", 5),
           ("icloud.com", 5), ("yahoo.de", 4), ("googlemail.com", 5), ("freenet.de", 2)],
    "FR": [("gmail.com", 35), ("orange.fr", 15), ("hotmail.fr", 12), ("free.fr", 8), ("laposte.net", 6), ("sfr.fr", 6),
           ("yahoo.fr", 6), ("wanadoo.fr", 4), ("outlook.fr", 4), ("icloud.com", 4)],
    "PL": [("gmail.com", 35), ("wp.pl", 18), ("onet.pl", 14), ("o2.pl", 10), ("interia.pl", 10), ("op.pl", 5),
           ("outlook.com", 4), ("icloud.com", 4)],
    "ES": [("gmail.com", 45), ("hotmail.com", 15), ("hotmail.es", 10), ("yahoo.es", 8), ("outlook.es", 7),
           ("telefonica.net", 4), ("icloud.com", 6), ("movistar.es", 2)],
    "TR": [("gmail.com", 50), ("hotmail.com", 20), ("outlook.com", 8), ("yandex.com.tr", 6), ("yahoo.com", 6),
           ("icloud.com", 6), ("mynet.com", 4)],
    "US": [("gmail.com", 45), ("yahoo.com", 15), ("hotmail.com", 8), ("outlook.com", 8), ("icloud.com", 12),
           ("aol.com", 6), ("comcast.net", 4), ("msn.com", 2)],
    "NL": [("gmail.com", 35), ("hotmail.com", 15), ("ziggo.nl", 10), ("kpnmail.nl", 8), ("outlook.com", 8),
           ("live.nl", 6), ("icloud.com", 6), ("xs4all.nl", 4), ("planet.nl", 3), ("hetnet.nl", 3)],
    "DK": [("gmail.com", 40), ("hotmail.com", 15), ("outlook.dk", 8), ("live.dk", 8), ("yahoo.dk", 6), ("mail.dk", 5),
           ("icloud.com", 8), ("jubii.dk", 3), ("sol.dk", 3)],
}

TLD = {"GB": "co.uk", "DE": "de", "FR": "fr", "PL": "pl", "ES": "es", "TR": "com.tr", "US": "com", "NL": "nl",
       "DK": "dk"}
TRADE = {
    "GB": ["plumbing", "joinery", "dental", "motors", "lettings", "bakery", "accountants", "electrical"],
    "DE": ["elektro", "bau", "praxis", "kfz", "immobilien", "baeckerei", "steuerberatung", "sanitaer"],
    "FR": ["plomberie", "cabinet", "boulangerie", "garage", "immobilier", "menuiserie", "conseil"],
    "PL": ["serwis", "budowa", "gabinet", "auto", "nieruchomosci", "piekarnia", "biuro"],
    "ES": ["reformas", "clinica", "talleres", "inmobiliaria", "panaderia", "asesoria", "fontaneria"],
    "TR": ["insaat", "oto", "emlak", "klinik", "mimarlik", "danismanlik", "tekstil"],
    "US": ["plumbing", "dental", "realty", "autobody", "bakery", "cpa", "roofing", "landscaping"],
    "NL": ["installatie", "bouw", "tandarts", "autobedrijf", "makelaardij", "bakkerij", "advies"],
    "DK": ["el", "byg", "tandlaege", "auto", "ejendomme", "bageri", "revision"],
}
MAILBOX_LOCAL = ["info", "office", "contact", "hello", "kontakt", "orders", "admin", "bureau", "biuro", "iletisim"]

COUNTRY_FREE_TEXT = {
    "GB": ["United Kingdom", "UK", "GB", "England", "Great Britain"], "DE": ["Germany", "Deutschland", "DE"],
    "FR": ["France", "FR"], "PL": ["Poland", "Polska", "PL"], "ES": ["Spain", "España", "ES"],
    "TR": ["Turkey", "Türkiye", "TR"], "US": ["United States", "USA", "US", "United States of America"],
    "NL": ["Netherlands", "Nederland", "Holland", "NL"], "DK": ["Denmark", "Danmark", "DK"],
}
LOCALE = {"GB": "en-GB", "DE": "de-DE", "FR": "fr-FR", "PL": "pl-PL", "ES": "es-ES", "TR": "tr-TR", "US": "en-US",
          "NL": "nl-NL", "DK": "da-DK"}
TZ = {"GB": ("London", 0), "DE": ("Berlin", 1), "FR": ("Paris", 1), "PL": ("Warsaw", 1), "ES": ("Madrid", 1),
      "TR": ("Istanbul", 3), "US": ("Eastern Time (US & Canada)", -5), "NL": ("Amsterdam", 1), "DK": ("Copenhagen", 1)}
TITLES = {"GB": ["Mr", "Mrs", "Ms", "Dr", "Miss"], "US": ["Mr.", "Mrs.", "Ms.", "Dr."], "DE": ["Herr", "Frau", "Dr."],
          "FR": ["M.", "Mme", "Mlle"], "PL": ["Pan", "Pani"], "ES": ["Sr.", "Sra.", "D.", "Dña."],
          "TR": ["Bay", "Bayan"],
          "NL": ["Dhr.", "Mevr.", "Mw."], "DK": ["Hr.", "Fru"]}

# placeholder values that forms and store staff really type (kind `placeholder`)
PLACEHOLDER_EMAILS = ["noemail@example.com", "none@none.com", "no@email.com", "test@test.com", "na@na.com",
                      "noemail@noemail.com", "keine@keine.de", "x@x.com"]
PLACEHOLDER_PHONES = ["0000000000", "1234567890", "00000000000", "07000000000", "+440000000000", "0123456789",
                      "9999999999", "+10000000000"]
PLACEHOLDER_DOBS = ["1900-01-01", "1901-01-01", "1970-01-01"]
JUNK_NAMES = ["test", "Test Test", "asdf", "xxx", ".", "n/a", "-", "customer", "Guest", "aaa aaa"]
RELAY_DOMAIN = "privaterelay.appleid.com"

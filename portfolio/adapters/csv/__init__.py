"""CSV files in and out: the candidates, council scores and spend files, read into typed rows
and written from the domain's models. Pure: bytes or text in, rows and errors out; nothing
here touches storage (the use cases that save what a file holds are in ``portfolio.services``).

Reading is all or nothing: every row is checked and every problem is reported as a
(field, rule) pair whose field reads like ``row 3, column p_success`` (rows numbered as a
spreadsheet shows them: the header is row 1; columns named as the template's header names them).

- ``table``: the file as a whole (size, encoding, header, rows of cells) and the naming of errors;
- ``formula``: the spreadsheet-formula rule, refused on import and neutralised on export;
- ``cells``: typed cells (numbers, whole numbers, yes/no, three-point ranges) and pydantic's
  errors put back on the row and column they came from;
- ``writer``: rows to CSV text;
- ``candidates``, ``scores``, ``spend``: each file's columns, template, export and parser.
"""
